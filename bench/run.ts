/**
 * npm run bench: the hot path against the bare node:http floor, in ONE run.
 *
 *   (a) floor          bare node:http returning a fixed JSON           bench/servers/floor.mjs
 *   (b) native         POST /v1/models/credit-risk/versions/v1/predict  the gateway (dist/cli.js)
 *   (c) v2             POST /v2/models/credit-risk/versions/v1/infer    the gateway
 *   (d) routed         POST /v1/models/credit-risk/predict              split 90/10, sticky (routes-split.yaml)
 *   (e) routed @rate   (d) at half of (b)'s req/s, for its p99
 *   (f) shadow @rate   the same with every request mirrored to v3 (routes-shadow.yaml), a second gateway
 *   (g) native+log     (b) on a third gateway that records every inference (SQLite); (a)-(f) run with --store none
 *
 * After the rounds, a fixed number of requests goes to (g) and the rows its store gained
 * are counted: they must equal the requests answered.
 *
 * Servers run in their own processes; autocannon runs here. Each round runs every scenario,
 * in alternating order; ratios are taken within a round (the machine is shared and noisy, so
 * neighbours in time are the fairest comparison) and their median is reported.
 * Knobs: CONNECTIONS (50), DURATION seconds (10), RUNS (3), PIPELINING (1).
 */
import autocannon from 'autocannon'
import { execSync, fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { CREDIT_FEATURES, generateCreditRows } from '../src/sample-data/credit-default.js'

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50)
const DURATION = Number(process.env.DURATION ?? 10) // seconds a measurement
const RUNS = Number(process.env.RUNS ?? 3)
const PIPELINING = Number(process.env.PIPELINING ?? 1)
const root = new URL('..', import.meta.url).pathname

interface Scenario { name: string; what: string; port: number; path: string; body: string; rate?: () => number; headers?: Record<string, string> }
interface Measurement { reqPerSec: number; p50: number; p99: number; non2xx: number; errors: number }

const row = generateCreditRows(1, 7)[0] as Record<string, number>
const features = Object.fromEntries(CREDIT_FEATURES.map((f) => [f, row[f]]))
const nativeBody = JSON.stringify({ instances: [features] })
const v2Body = JSON.stringify({
  inputs: [{ name: 'features', shape: [1, CREDIT_FEATURES.length], datatype: 'FP32', data: CREDIT_FEATURES.map((f) => row[f]) }],
})

const VERIFY_REQUESTS = 20_000 // sent to the recording gateway after the rounds, then counted in its store

async function main(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'))
  const logFile = join(logDir, 'inference-log.db')
  const floor = await startFloor()
  const gateway = await startGateway('bench/servers/routes-split.yaml')
  const shadowed = await startGateway('bench/servers/routes-shadow.yaml')
  const recording = await startGateway('bench/servers/routes-split.yaml', ['--store', `sqlite:${logFile}`, '--spill-dir', join(logDir, 'spill')])
  let nativeRps = 0 // the current round's (b), for the fixed-rate scenarios
  const half = () => Math.max(100, Math.round(nativeRps / 2))
  const sticky = { 'x-customer-id': 'bench-customer' }
  const scenarios: Scenario[] = [
    { name: 'floor', what: 'bare node:http, fixed JSON', port: floor.port, path: '/', body: nativeBody },
    { name: 'native', what: 'POST /v1/models/credit-risk/versions/v1/predict', port: gateway.port, path: '/v1/models/credit-risk/versions/v1/predict', body: nativeBody },
    { name: 'v2', what: 'POST /v2/models/credit-risk/versions/v1/infer', port: gateway.port, path: '/v2/models/credit-risk/versions/v1/infer', body: v2Body },
    { name: 'routed', what: 'POST /v1/models/credit-risk/predict (split 90/10, sticky)', port: gateway.port, path: '/v1/models/credit-risk/predict', body: nativeBody },
    { name: 'native+log', what: '(native) with every inference recorded to SQLite', port: recording.port, path: '/v1/models/credit-risk/versions/v1/predict', body: nativeBody },
    { name: 'routed@rate', what: 'routed, at half of native req/s', port: gateway.port, path: '/v1/models/credit-risk/predict', body: nativeBody, rate: half, headers: sticky },
    { name: 'shadow@rate', what: 'routed + shadow v3 at 100%, same rate', port: shadowed.port, path: '/v1/models/credit-risk/predict', body: nativeBody, rate: half, headers: sticky },
  ]
  try {
    nativeRps = (await measure(scenarios[1], 2)).reqPerSec
    for (const s of scenarios) await measure(s, 2) // warm-up, not reported
    const runs = new Map<string, Measurement[]>(scenarios.map((s) => [s.name, []]))
    for (let i = 0; i < RUNS; i++) {
      // the fixed-rate pair always runs after native, which sets its rate
      const free = scenarios.slice(0, 5)
      const order = [...(i % 2 === 0 ? free : [...free].reverse()), ...(i % 2 === 0 ? scenarios.slice(5) : scenarios.slice(5).reverse())]
      for (const s of order) {
        const m = await measure(s, DURATION)
        if (s.name === 'native') nativeRps = m.reqPerSec
        runs.get(s.name)!.push(m)
      }
    }
    const verification = await verifyRecorded(scenarios[4], logFile)
    report(scenarios, runs, verification)
  } finally {
    floor.child.kill()
    gateway.child.kill()
    shadowed.child.kill()
    recording.child.kill()
    rmSync(logDir, { recursive: true, force: true })
  }
}

interface Verification { requests: number; answered: number; rowsAdded: number }

/** Send exactly VERIFY_REQUESTS to the recording gateway and count the rows its store gained. */
async function verifyRecorded(s: Scenario, logFile: string): Promise<Verification> {
  const rows = () => {
    const db = new Database(logFile, { readonly: true })
    try {
      return db.prepare('SELECT count(*) FROM inferences').pluck().get() as number
    } finally {
      db.close()
    }
  }
  const settle = () => new Promise((r) => setTimeout(r, 1_000)) // several flush intervals
  await settle()
  const before = rows()
  const result = await autocannon({
    url: `http://127.0.0.1:${s.port}${s.path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: s.body,
    connections: CONNECTIONS, amount: VERIFY_REQUESTS,
  })
  await settle()
  return { requests: VERIFY_REQUESTS, answered: result['2xx'], rowsAdded: rows() - before }
}

async function measure(s: Scenario, duration: number): Promise<Measurement> {
  const result = await autocannon({
    url: `http://127.0.0.1:${s.port}${s.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...s.headers },
    body: s.body,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration,
    ...(s.rate ? { overallRate: s.rate() } : {}),
  })
  return { reqPerSec: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Median over rounds of a / b, each ratio taken within one round. */
function medianRatio(a: Measurement[], b: Measurement[], pick: (m: Measurement) => number): number {
  return Number(median(a.map((m, i) => pick(m) / pick(b[i]))).toFixed(2))
}

function report(scenarios: Scenario[], runs: Map<string, Measurement[]>, verification: Verification): void {
  const r = (name: string) => runs.get(name)!
  const reference: Record<string, { to: string; what: string; pick: (m: Measurement) => number }> = {
    native: { to: 'floor', what: 'req/s × floor', pick: (m) => m.reqPerSec },
    v2: { to: 'floor', what: 'req/s × floor', pick: (m) => m.reqPerSec },
    routed: { to: 'native', what: 'req/s × native', pick: (m) => m.reqPerSec },
    'shadow@rate': { to: 'routed@rate', what: 'p99 × routed@rate', pick: (m) => m.p99 },
    'native+log': { to: 'native', what: 'req/s × native', pick: (m) => m.reqPerSec },
  }
  const rows = scenarios.map((s) => {
    const ms = r(s.name)
    const ref = reference[s.name]
    return {
      scenario: s.name, what: s.what, reqPerSec: Math.round(median(ms.map((m) => m.reqPerSec))),
      p50Ms: median(ms.map((m) => m.p50)), p99Ms: median(ms.map((m) => m.p99)),
      ratio: ref ? `${medianRatio(ms, r(ref.to), ref.pick)} ${ref.what}` : '',
      non2xx: ms.reduce((n, m) => n + m.non2xx + m.errors, 0),
      runs: ms.map((m) => Math.round(m.reqPerSec)),
    }
  })
  const sha = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`
  const knobs = `CONNECTIONS=${CONNECTIONS} DURATION=${DURATION}s RUNS=${RUNS} PIPELINING=${PIPELINING}`
  const table = [
    '| scenario | endpoint | req/s (median) | p50 ms | p99 ms | ratio (median of rounds) | non-2xx | req/s of each round |',
    '|---|---|---:|---:|---:|---|---:|---|',
    ...rows.map((x) => `| ${x.scenario} | ${x.what} | ${x.reqPerSec} | ${x.p50Ms} | ${x.p99Ms} | ${x.ratio} | ${x.non2xx} | ${x.runs.join(', ')} |`),
  ].join('\n')
  const recorded = `Inference log: ${verification.requests} requests sent to native+log after the rounds, ${verification.answered} answered 2xx, ` +
    `${verification.rowsAdded} rows added to its store (${verification.rowsAdded === verification.answered ? 'equal' : 'NOT EQUAL'}).`
  const md = `# Hot path vs bare node:http\n\ncommit ${sha}; ${machine}; ${knobs}\n\n${table}\n\n${recorded}\n`
  process.stdout.write(`\n${md}\n`)
  const dir = join(root, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const stem = join(dir, `${new Date().toISOString().slice(0, 10)}_${sha}_hot-path`)
  writeFileSync(`${stem}.md`, md)
  writeFileSync(`${stem}.json`, JSON.stringify({ commit: sha, machine, knobs: { CONNECTIONS, DURATION, RUNS, PIPELINING }, rows, verification }, null, 2) + '\n')
  process.stdout.write(`wrote ${stem}.md and .json\n`)
}

function startFloor(): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(join(root, 'bench', 'servers', 'floor.mjs'), ['0'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, port: (m as { port: number }).port }))
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)))
  })
}

/** A gateway process; without a --store in `extra`, it records nothing (--store none). */
async function startGateway(routes: string, extra: string[] = ['--store', 'none']): Promise<{ child: ChildProcess; port: number }> {
  const port = 18_000 + Math.floor(Math.random() * 1_000)
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn', '--routes', routes, '--no-watch', ...extra], {
    cwd: root, stdio: ['ignore', 'ignore', 'inherit'],
  })
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/health/ready`)
      if (res.status === 200) return { child, port }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200))
  }
  child.kill()
  throw new Error('the gateway did not become ready within 60 s')
}

await main()
