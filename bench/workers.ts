/**
 * npm run bench:workers (and the end of npm run bench): what `serve --workers 2` gives over one
 * process (issue #17), and whether each worker writing its own inference records loses any.
 *
 * For each store (SQLite; PostgreSQL too when BENCH_PG names a server, e.g.
 * postgres://postgres@127.0.0.1:5432/test) and each round, a gateway with --workers 1 and one with
 * --workers 2, in alternating order, each freshly started on an empty store: CONNECTIONS (32)
 * clients on POST /v1/models/credit-risk/versions/v1/predict for DURATION (10) seconds, then
 * SIGTERM, then the rows in the store are counted against the 2xx answers. Reported: req/s,
 * CPU a request (every thread of the primary and its workers, bench/cpu-time.ts), rows - answers,
 * and the median over RUNS (3) rounds of req/s(2) ÷ req/s(1). The load generator runs in this
 * process and takes a core of its own: on a 2-core machine the workers share the other.
 */
import autocannon from 'autocannon'
import { execSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { CREDIT_FEATURES, generateCreditRows } from '../src/sample-data/credit-default.js'
import { threadTicks } from './cpu-time.js'

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32)
const DURATION = Number(process.env.DURATION ?? 10)
const RUNS = Number(process.env.RUNS ?? 3)
const WARM_SECONDS = 2
const root = new URL('..', import.meta.url).pathname
const row = generateCreditRows(1, 7)[0] as Record<string, number>
const body = JSON.stringify({ instances: [Object.fromEntries(CREDIT_FEATURES.map((f) => [f, row[f]]))] })
const PATH = '/v1/models/credit-risk/versions/v1/predict'

interface Store {
  readonly name: string
  /** A new, empty store: its --store spec, how to count its rows, how to remove it. */
  fresh(tag: string): Promise<{ spec: string; rows(): Promise<number>; drop(): Promise<void> }>
}

interface Measurement { readonly store: string; readonly workers: number; readonly reqPerSec: number; readonly cpuUsPerRequest: number; readonly answers: number; readonly rows: number }

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-workers-'))
  const stores: Store[] = [sqliteStore(dir)]
  if (process.env.BENCH_PG) stores.push(postgresStore(process.env.BENCH_PG))
  const measured: Measurement[] = []
  try {
    for (let round = 0; round < RUNS; round++) {
      for (const store of stores) {
        for (const workers of round % 2 === 0 ? [1, 2] : [2, 1]) {
          const m = await measure(store, workers, join(dir, `r${round}-${store.name}-${workers}`))
          measured.push(m)
          console.log(`round ${round + 1} ${store.name} --workers ${workers}: ${m.reqPerSec} req/s, ${m.cpuUsPerRequest} µs CPU a request, ${m.rows} rows for ${m.answers} answers`)
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  report(stores.map((s) => s.name), measured)
}

async function measure(store: Store, workers: number, dir: string): Promise<Measurement> {
  mkdirSync(dir, { recursive: true })
  const target = await store.fresh(`${workers}`)
  const gateway = await startGateway(workers, target.spec, join(dir, 'spill'))
  try {
    const warm = await load(gateway.port, WARM_SECONDS) // every worker has connections and warm code
    const pids = processTree(gateway.child.pid!)
    const before = pids.map(threadTicks)
    const result = await load(gateway.port, DURATION)
    const after = pids.map(threadTicks)
    const ticks = pids.reduce((sum, _, i) => sum + total(after[i]) - total(before[i]), 0)
    gateway.child.kill('SIGTERM')
    await gateway.exited
    const answers = warm['2xx'] + result['2xx']
    return {
      store: store.name, workers, reqPerSec: Math.round(result.requests.average),
      cpuUsPerRequest: Number(((ticks * tickUs()) / result['2xx']).toFixed(1)), answers, rows: await target.rows(),
    }
  } finally {
    gateway.child.kill('SIGKILL')
    await target.drop()
  }
}

function report(storeNames: string[], measured: Measurement[]): void {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const lines = ['| store | req/s --workers 1 | req/s --workers 2 | ratio (median of rounds) | CPU µs a request 1 → 2 | rows − answers, all runs (2 × CONNECTIONS a run are in flight when counting stops) |', '|---|---:|---:|---:|---:|---:|']
  const summary: Record<string, unknown> = {}
  for (const name of storeNames) {
    const of = (n: number) => measured.filter((m) => m.store === name && m.workers === n)
    const one = of(1)
    const two = of(2)
    const ratios = one.map((m, i) => two[i].reqPerSec / m.reqPerSec)
    const lost = measured.filter((m) => m.store === name).reduce((sum, m) => sum + m.rows - m.answers, 0)
    summary[name] = { ratio: Number(median(ratios).toFixed(2)), ratios: ratios.map((r) => Number(r.toFixed(2))), rowsMinusAnswers: lost }
    lines.push(`| ${name} | ${median(one.map((m) => m.reqPerSec))} | ${median(two.map((m) => m.reqPerSec))} | ${median(ratios).toFixed(2)} × | ${median(one.map((m) => m.cpuUsPerRequest))} → ${median(two.map((m) => m.cpuUsPerRequest))} | ${lost} |`)
  }
  const sha = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`
  const knobs = `CONNECTIONS=${CONNECTIONS} DURATION=${DURATION} RUNS=${RUNS}`
  const table = lines.join('\n')
  console.log(`\n${table}\n`)
  const stem = join(root, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}_${sha}_workers`)
  writeFileSync(`${stem}.md`, `# --workers 2 ÷ --workers 1\n\n${new Date().toISOString()}, commit ${sha}, ${machine}, ${knobs}; the load generator in the bench process.\n\n${table}\n`)
  writeFileSync(`${stem}.json`, JSON.stringify({ commit: sha, machine, knobs: { CONNECTIONS, DURATION, RUNS }, summary, measured }, null, 2) + '\n')
}

function load(port: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url: `http://127.0.0.1:${port}${PATH}`, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections: CONNECTIONS, duration: seconds })
}

function sqliteStore(dir: string): Store {
  return {
    name: 'sqlite',
    async fresh(tag) {
      const path = join(dir, `${tag}-${Date.now()}.db`)
      return {
        spec: `sqlite:${path}`,
        async rows() {
          const db = new Database(path, { readonly: true })
          try { return db.prepare('SELECT count(*) FROM inferences').pluck().get() as number } finally { db.close() }
        },
        async drop() { rmSync(path, { force: true }) },
      }
    },
  }
}

function postgresStore(server: string): Store {
  const query = async <T extends pg.QueryResultRow>(url: string, sql: string) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try { return (await client.query<T>(sql)).rows } finally { await client.end() }
  }
  return {
    name: 'postgresql',
    async fresh(tag) {
      const name = `switchyard_bench_workers_${tag}_${process.pid}_${Date.now()}`
      await query(server, `CREATE DATABASE ${name}`)
      const url = new URL(server)
      url.pathname = `/${name}`
      return {
        spec: url.toString(),
        rows: async () => Number((await query<{ n: string }>(url.toString(), 'SELECT count(*) AS n FROM inferences'))[0].n),
        drop: async () => void await query(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      }
    },
  }
}

/** The built CLI with --workers N, ready once every worker answers (each answer names its worker). */
async function startGateway(workers: number, store: string, spill: string): Promise<{ child: ChildProcess; port: number; exited: Promise<void> }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--workers', String(workers), '--port', String(port), '--grpc-port', '0', '--host', '127.0.0.1',
    '--no-auth', '--no-watch', '--log-level', 'silent', '--store', store, '--spill-dir', spill, '--routes', 'bench/servers/routes-split.yaml'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    if ((workers === 1 || processTree(child.pid!).length > workers) && await fetch(`http://127.0.0.1:${port}/v2/health/ready`).then((r) => r.status === 200, () => false)) {
      await new Promise((r) => setTimeout(r, 3_000)) // the last worker listens, then loads its models
      return { child, port, exited }
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  child.kill('SIGKILL')
  throw new Error(`the gateway with --workers ${workers} did not become ready`)
}

/** `pid` and its children (the primary's workers); the store writers are threads, counted with them. */
function processTree(pid: number): number[] {
  const children = (() => {
    try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) } catch { return [] }
  })()
  return [pid, ...children]
}

function total(ticks: Map<number, number> | null): number {
  return ticks === null ? 0 : [...ticks.values()].reduce((a, b) => a + b, 0)
}

function tickUs(): number {
  try { return 1e6 / Number(execSync('getconf CLK_TCK').toString().trim()) } catch { return 10_000 }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
