/**
 * npm run bench: the hot path against the bare node:http floor, in ONE run.
 *
 *   (a) floor          bare node:http returning a fixed JSON           bench/servers/floor.mjs
 *   (b) native         POST /v1/models/credit-risk/versions/v1/predict  the gateway (dist/cli.js)
 *   (c) v2             POST /v2/models/credit-risk/versions/v1/infer    the gateway
 *   (d) routed         POST /v1/models/credit-risk/predict              split 90/10, sticky (routes-split.yaml), against
 *       native-mix     the per-version endpoints of v1 and v2, each request's picked at random 90:10: the split's traffic unrouted
 *   (e) routed @rate   (d) at half of (b)'s req/s, evenly paced (bench/paced-load.ts), for its p99
 *   (f) shadow @rate   the same with every request mirrored to v3 (routes-shadow.yaml), a second gateway
 *   (g) native+log     (b) on a third gateway that records every inference (SQLite); (a)-(f) run with --store none
 *   (h) native-twin    (b) on a fourth gateway, the same as (b)'s: how far two identical processes differ, the
 *                      yardstick for (g)'s ratio, which is also taken between two processes
 *   (i) native@rate    (b) at half of (b)'s req/s, evenly paced, on (h)'s gateway
 *   (j) native+log@rate the same on (g)'s gateway: what recording costs a request when a core is spare,
 *                      as the request thread's CPU a request on - off and the p99 on ÷ off (issue #18)
 *
 * After the rounds, a fixed number of requests goes to (g) and the rows its store gained
 * are counted: they must equal the requests answered.
 *
 * Each server's CPU time a request, its main thread apart from its other threads, is read from
 * /proc around each measurement (cpu-time.ts): a noise-resistant view of what a feature costs.
 *
 * Servers run in their own processes; autocannon runs here. Each round runs every scenario,
 * in alternating order; ratios are taken within a round (the machine is shared and noisy, so
 * neighbours in time are the fairest comparison) and their median is reported.
 * Knobs: CONNECTIONS (50), DURATION seconds (10), RUNS (3), PIPELINING (1), and ONLY, a comma-separated
 * list of scenarios to run (with what their ratios and rates need; e.g. ONLY=shadow@rate) while tuning.
 */
import autocannon from 'autocannon'
import { execSync, fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { writeReadmeTable } from './readme-table.js'
import { cpus, loadavg, tmpdir } from 'node:os'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { CREDIT_FEATURES, generateCreditRows } from '../src/sample-data/credit-default.js'
import { cpuPerRequest, threadTicks } from './cpu-time.js'
import type { CpuPerRequest } from './cpu-time.js'
import { pacedLoad, quantile } from './paced-load.js'
import type { PacedResult } from './paced-load.js'

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50)
const DURATION = Number(process.env.DURATION ?? 10) // seconds a measurement
const RUNS = Number(process.env.RUNS ?? 3)
const PIPELINING = Number(process.env.PIPELINING ?? 1)
const ONLY = process.env.ONLY?.split(',').map((s) => s.trim()).filter(Boolean) ?? null
const root = new URL('..', import.meta.url).pathname

interface Scenario {
  name: string; what: string; pid: number; port: number; path: string; body: string; rate?: () => number; headers?: Record<string, string>
  /**
   * Each request's path, picked as it is sent (autocannon then builds every request anew, so
   * a scenario compared with one that picks should pick too, if only the same path).
   */
  pickPath?: () => string
}
interface Measurement {
  reqPerSec: number; p50: number; p99: number; non2xx: number; errors: number; cpu?: CpuPerRequest | null
  /** A fixed-rate scenario's p99 in each of its slices, in the order they ran (paired with the other scenario's). */
  sliceP99?: number[]
}

const row = generateCreditRows(1, 7)[0] as Record<string, number>
const features = Object.fromEntries(CREDIT_FEATURES.map((f) => [f, row[f]]))
const nativeBody = JSON.stringify({ instances: [features] })
const v2Body = JSON.stringify({
  inputs: [{ name: 'features', shape: [1, CREDIT_FEATURES.length], datatype: 'FP32', data: CREDIT_FEATURES.map((f) => row[f]) }],
})

const VERIFY_REQUESTS = 20_000 // sent to the recording gateway after the rounds, then counted in its store

async function main(): Promise<void> {
  // the other work on this shared machine, before this run adds its own: figures from a busy host are noisier
  const loadBefore = loadavg()[0]
  const logDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'))
  const logFile = join(logDir, 'inference-log.db')
  const floor = await startFloor()
  const gateway = await startGateway('bench/servers/routes-split.yaml')
  // the fixed-rate pair each on a gateway of its own, with the same history: the one that serves
  // the closed-loop scenarios has grown its heap and optimised its code under full load first
  const unshadowed = await startGateway('bench/servers/routes-split.yaml')
  const shadowed = await startGateway('bench/servers/routes-shadow.yaml')
  const recording = await startGateway('bench/servers/routes-split.yaml', ['--store', `sqlite:${logFile}`, '--spill-dir', join(logDir, 'spill')])
  const twin = await startGateway('bench/servers/routes-split.yaml')
  let nativeRps = 0 // the current round's (b), for the fixed-rate scenarios
  const half = () => Math.max(100, Math.round(nativeRps / 2))
  const sticky = { 'x-customer-id': 'bench-customer' }
  const scenarios: Scenario[] = [
    { name: 'floor', what: 'bare node:http, fixed JSON', pid: floor.child.pid!, port: floor.port, path: '/', body: nativeBody },
    { name: 'native', what: 'POST /v1/models/credit-risk/versions/v1/predict', pid: gateway.child.pid!, port: gateway.port, path: '/v1/models/credit-risk/versions/v1/predict', body: nativeBody },
    { name: 'v2', what: 'POST /v2/models/credit-risk/versions/v1/infer', pid: gateway.child.pid!, port: gateway.port, path: '/v2/models/credit-risk/versions/v1/infer', body: v2Body },
    {
      name: 'routed', what: 'POST /v1/models/credit-risk/predict (split 90/10, sticky)', pid: gateway.child.pid!, port: gateway.port, path: '/v1/models/credit-risk/predict', body: nativeBody,
      pickPath: () => '/v1/models/credit-risk/predict',
    },
    {
      // picked a request at a time, as the split does: a cycle of nine v1 requests and one v2
      // starts on every connection together, so v2's came in bursts that ran as large batches
      name: 'native-mix', what: 'the per-version endpoints of v1 and v2, each request\'s picked at random 90:10 (the split\'s traffic, unrouted)', pid: gateway.child.pid!, port: gateway.port,
      path: '/v1/models/credit-risk/versions/v1/predict', body: nativeBody,
      pickPath: () => (Math.random() < 0.1 ? '/v1/models/credit-risk/versions/v2/predict' : '/v1/models/credit-risk/versions/v1/predict'),
    },
    { name: 'native+log', what: '(native) with every inference recorded to SQLite', pid: recording.child.pid!, port: recording.port, path: '/v1/models/credit-risk/versions/v1/predict', body: nativeBody },
    { name: 'native-twin', what: '(native) on a second gateway started the same way', pid: twin.child.pid!, port: twin.port, path: '/v1/models/credit-risk/versions/v1/predict', body: nativeBody },
    { name: 'routed@rate', what: 'routed, at half of native req/s', pid: unshadowed.child.pid!, port: unshadowed.port, path: '/v1/models/credit-risk/predict', body: nativeBody, rate: half, headers: sticky },
    { name: 'shadow@rate', what: 'routed + shadow v3 at 100%, same rate', pid: shadowed.child.pid!, port: shadowed.port, path: '/v1/models/credit-risk/predict', body: nativeBody, rate: half, headers: sticky },
    // the recording pair on native+log's and native-twin's gateways, which have the same history
    { name: 'native@rate', what: 'native, at half of native req/s (native-twin\'s gateway)', pid: twin.child.pid!, port: twin.port, path: '/v1/models/credit-risk/versions/v1/predict', body: nativeBody, rate: half },
    { name: 'native+log@rate', what: 'native+log, same rate (native+log\'s gateway)', pid: recording.child.pid!, port: recording.port, path: '/v1/models/credit-risk/versions/v1/predict', body: nativeBody, rate: half },
  ]
  const chosen = ONLY === null ? scenarios : scenarios.filter((s) => needed(ONLY).has(s.name))
  try {
    nativeRps = (await measure(scenarios.find((x) => x.name === 'native')!, 2)).reqPerSec
    for (const s of chosen) await measure(s, 2) // warm-up, not reported
    const runs = new Map<string, Measurement[]>(chosen.map((s) => [s.name, []]))
    const free = chosen.filter((s) => s.rate === undefined)
    // always after native, which sets their rate; in an order where each pair stays neighbours when reversed
    const atRate = chosen.filter((s) => s.rate !== undefined)
    for (let i = 0; i < RUNS; i++) {
      for (const s of i % 2 === 0 ? free : [...free].reverse()) {
        const m = await measure(s, DURATION)
        if (s.name === 'native') nativeRps = m.reqPerSec
        runs.get(s.name)!.push(m)
      }
      // the idle-priority writer falls behind under closed-loop load: let it catch up, or
      // native+log@rate would pay for the closed-loop scenarios' records
      if (atRate.some((s) => s.name === 'native+log@rate')) await settledRows(logFile)
      const paced = await measureInterleaved(i % 2 === 0 ? atRate : [...atRate].reverse(), DURATION)
      for (const [name, m] of paced) runs.get(name)!.push(m)
    }
    const verification = runs.has('native+log') ? await verifyRecorded(scenarios.find((x) => x.name === 'native+log')!, logFile) : null
    report(chosen, runs, verification, loadBefore)
  } finally {
    floor.child.kill()
    gateway.child.kill()
    shadowed.child.kill()
    unshadowed.child.kill()
    recording.child.kill()
    twin.child.kill()
    rmSync(logDir, { recursive: true, force: true })
  }
}

interface Verification { requests: number; answered: number; rowsAdded: number }

/** The scenarios asked for, with those their ratios are taken against and native, which sets the fixed rate. */
function needed(names: string[]): Set<string> {
  const set = new Set(['native', ...names])
  for (const name of names) if (RATIO_OF[name]) set.add(RATIO_OF[name].to)
  return set
}

/**
 * The rows in the recording gateway's store once they have stopped moving for a second: the
 * writer runs when a core is free and may still be taking in earlier records.
 */
async function settledRows(logFile: string): Promise<number> {
  const rows = () => {
    const db = new Database(logFile, { readonly: true })
    try {
      return db.prepare('SELECT count(*) FROM inferences').pluck().get() as number
    } finally {
      db.close()
    }
  }
  let last = rows()
  for (let still = 0, waited = 0; still < 4 && waited < 120; waited++) {
    await new Promise((r) => setTimeout(r, 250))
    const now = rows()
    still = now === last ? still + 1 : 0
    last = now
  }
  return last
}

/** Send exactly VERIFY_REQUESTS to the recording gateway and count the rows its store gained. */
async function verifyRecorded(s: Scenario, logFile: string): Promise<Verification> {
  const before = await settledRows(logFile)
  const result = await autocannon({
    url: `http://127.0.0.1:${s.port}${s.path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: s.body,
    connections: CONNECTIONS, amount: VERIFY_REQUESTS,
  })
  return { requests: VERIFY_REQUESTS, answered: result['2xx'], rowsAdded: (await settledRows(logFile)) - before }
}

const SLICE_SECONDS = 1

/**
 * The fixed-rate scenarios, taking turns in slices of 1 s for `duration` seconds each (in
 * alternating order, ABBA), each one's latencies pooled over its slices. A p99 is set by the
 * worst 1 % of moments, and on this shared machine a hiccup of the host lasts tens of
 * milliseconds: slices spread those hiccups over the scenarios alike, where back-to-back runs
 * would hand them to one. Each slice's p99 is kept too: the p99 ratio is the median over
 * neighbouring slice pairs, which a hiccup inside one slice cannot move.
 *
 * CPU a request is read once around all the slices, each server's threads over all its
 * requests: /proc counts in 10 ms ticks, 1 µs a request in a 1 s slice at 10k req/s, and a
 * worker's work for one slice may run in the next one's.
 */
async function measureInterleaved(scenarios: Scenario[], duration: number): Promise<Map<string, Measurement>> {
  const slices = new Map<string, (PacedResult & Measurement)[]>(scenarios.map((s) => [s.name, []]))
  const before = new Map(scenarios.map((s) => [s.name, threadTicks(s.pid)]))
  for (let t = 0, k = 0; t < duration; t += SLICE_SECONDS, k++) {
    for (const s of k % 2 === 0 ? scenarios : [...scenarios].reverse()) {
      slices.get(s.name)!.push(await measure(s, Math.min(SLICE_SECONDS, duration - t)) as PacedResult & Measurement)
    }
  }
  await new Promise((r) => setTimeout(r, 200)) // the last answers' bookkeeping and the log's flush belong to this run
  return new Map(scenarios.map((s) => {
    const results = slices.get(s.name)!
    const pooled = poolSorted(results.map((r) => r.latencies))
    return [s.name, {
      reqPerSec: Math.round(pooled.length / duration), p50: quantile(pooled, 0.5), p99: quantile(pooled, 0.99),
      non2xx: results.reduce((n, r) => n + r.non2xx, 0), errors: results.reduce((n, r) => n + r.errors, 0),
      cpu: cpuPerRequest(s.pid, before.get(s.name)!, threadTicks(s.pid), pooled.length),
      sliceP99: results.map((r) => r.p99),
    }]
  }))
}

function poolSorted(parts: Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    all.set(p, offset)
    offset += p.length
  }
  return all.sort()
}

async function measure(s: Scenario, duration: number): Promise<Measurement | PacedResult> {
  if (s.rate !== undefined) {
    // a fixed rate needs evenly spaced requests; autocannon's rate limit sends in bursts (paced-load.ts)
    return pacedLoad({
      url: `http://127.0.0.1:${s.port}${s.path}`, body: s.body, headers: { 'content-type': 'application/json', ...s.headers },
      rate: s.rate(), seconds: duration, connections: CONNECTIONS,
    })
  }
  const before = threadTicks(s.pid)
  const pick = s.pickPath
  const result = await autocannon({
    url: `http://127.0.0.1:${s.port}${s.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...s.headers },
    body: s.body,
    requests: pick === undefined ? undefined : [{ method: 'POST', setupRequest: (request: { path: string }) => ({ ...request, path: pick() }) } as never],
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration,
  })
  await new Promise((r) => setTimeout(r, 200)) // the last answers' bookkeeping and the log's flush belong to this run
  const cpu = cpuPerRequest(s.pid, before, threadTicks(s.pid), result.requests.total)
  return { reqPerSec: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors, cpu }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Median over rounds of a / b, each ratio taken within one round; for fixed-rate p99s, over every pair of neighbouring slices. */
function medianRatio(a: Measurement[], b: Measurement[], pick: (m: Measurement) => number, bySlice = false): number {
  if (bySlice) {
    const ratios = a.flatMap((m, i) => (m.sliceP99 ?? []).map((p99, k) => p99 / b[i].sliceP99![k]))
    return Number(median(ratios).toFixed(2))
  }
  return Number(median(a.map((m, i) => pick(m) / pick(b[i]))).toFixed(2))
}

/** What each scenario's ratio is taken against. */
const RATIO_OF: Record<string, { to: string; what: string; pick: (m: Measurement) => number; bySlice?: boolean }> = {
  native: { to: 'floor', what: 'req/s × floor', pick: (m) => m.reqPerSec },
  v2: { to: 'floor', what: 'req/s × floor', pick: (m) => m.reqPerSec },
  'native-mix': { to: 'native', what: 'req/s × native', pick: (m) => m.reqPerSec },
  routed: { to: 'native-mix', what: 'req/s × native-mix', pick: (m) => m.reqPerSec },
  'shadow@rate': { to: 'routed@rate', what: 'p99 × routed@rate (median of 1 s slice pairs)', pick: (m) => m.p99, bySlice: true },
  'native+log': { to: 'native', what: 'req/s × native', pick: (m) => m.reqPerSec },
  'native-twin': { to: 'native', what: 'req/s × native', pick: (m) => m.reqPerSec },
  'native+log@rate': { to: 'native@rate', what: 'p99 × native@rate (median of 1 s slice pairs)', pick: (m) => m.p99, bySlice: true },
}

/** Median over rounds of a's CPU a request minus b's, each difference taken within one round; null where not measured. */
function medianCpuDifference(a: Measurement[], b: Measurement[], pick: (c: CpuPerRequest) => number): number | null {
  const differences = a.flatMap((m, i) => (m.cpu && b[i].cpu ? [pick(m.cpu) - pick(b[i].cpu!)] : []))
  return differences.length === 0 ? null : Number(median(differences).toFixed(1))
}

/**
 * What recording costs a request, as issue #18 asks: the request thread's CPU a request and the
 * p99 at half of native's maximum, recording on against off, where a core is spare for the writer;
 * the other threads' difference is the writer's (and the journal's) CPU a record.
 */
function recordingCost(runs: Map<string, Measurement[]>): string {
  const on = runs.get('native+log@rate')
  const off = runs.get('native@rate')
  if (on === undefined || off === undefined) return ''
  const mainUs = medianCpuDifference(on, off, (c) => c.mainUs)
  const otherUs = medianCpuDifference(on, off, (c) => c.otherUs)
  const p99 = medianRatio(on, off, (m) => m.p99, true)
  const closedLoop = runs.has('native+log') && runs.has('native-twin') ? medianCpuDifference(runs.get('native+log')!, runs.get('native-twin')!, (c) => c.mainUs) : null
  return `Recording every inference, at half of native's maximum (native+log@rate against native@rate, median of rounds): ` +
    `the request thread ${signed(mainUs)} µs a request (goal ≤ 1.5), p99 ${p99} × (goal ≤ 1.1); ` +
    `the writer's threads ${signed(otherUs)} µs a record` +
    (closedLoop === null ? '.' : `; under closed-loop load the request thread ${signed(closedLoop)} µs a request (native+log against native-twin).`)
}

const signed = (us: number | null) => (us === null ? 'not measured' : `${us >= 0 ? '+' : ''}${us.toFixed(1)}`)

/** Median CPU a request over the rounds, main thread + the others' (workers, V8 helpers); blank where not measured. */
function describeCpu(ms: Measurement[]): string {
  const cpu = ms.map((m) => m.cpu).filter((c): c is CpuPerRequest => c != null)
  if (cpu.length === 0) return ''
  const main = median(cpu.map((c) => c.mainUs))
  const other = median(cpu.map((c) => c.otherUs))
  return `${main.toFixed(1)} + ${other.toFixed(1)}`
}

function report(scenarios: Scenario[], runs: Map<string, Measurement[]>, verification: Verification | null, loadBefore: number): void {
  const r = (name: string) => runs.get(name)!
  const rows = scenarios.map((s) => {
    const ms = r(s.name)
    const ref = runs.has(RATIO_OF[s.name]?.to) ? RATIO_OF[s.name] : undefined
    return {
      scenario: s.name, what: s.what, reqPerSec: Math.round(median(ms.map((m) => m.reqPerSec))),
      p50Ms: median(ms.map((m) => m.p50)), p99Ms: median(ms.map((m) => m.p99)),
      ratio: ref ? `${medianRatio(ms, r(ref.to), ref.pick, ref.bySlice)} ${ref.what}` : '',
      non2xx: ms.reduce((n, m) => n + m.non2xx + m.errors, 0),
      runs: ms.map((m) => (s.rate === undefined ? String(Math.round(m.reqPerSec)) : `p99 ${m.p99} ms`)),
      cpu: describeCpu(ms),
    }
  })
  const sha = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, load average ${loadBefore.toFixed(1)} before the run`
  const knobs = `CONNECTIONS=${CONNECTIONS} DURATION=${DURATION}s RUNS=${RUNS} PIPELINING=${PIPELINING}${ONLY ? ` ONLY=${ONLY.join(',')}` : ''}`
  const table = [
    '| scenario | endpoint | req/s (median) | p50 ms | p99 ms | ratio (median of rounds) | CPU µs a request: main thread + others | non-2xx | each round: req/s, or p99 at a fixed rate |',
    '|---|---|---:|---:|---:|---|---|---:|---|',
    ...rows.map((x) => `| ${x.scenario} | ${x.what} | ${x.reqPerSec} | ${x.p50Ms} | ${x.p99Ms} | ${x.ratio} | ${x.cpu} | ${x.non2xx} | ${x.runs.join(', ')} |`),
  ].join('\n')
  const recorded = verification === null ? '' : `Inference log: ${verification.requests} requests sent to native+log after the rounds, ${verification.answered} answered 2xx, ` +
    `${verification.rowsAdded} rows added to its store (${verification.rowsAdded === verification.answered ? 'equal' : 'NOT EQUAL'}).`
  const shadow = runs.get('shadow@rate')
  const routedAtRate = runs.get('routed@rate')
  const pooled = shadow === undefined || routedAtRate === undefined ? ''
    : `Shadow's p99 over each round's pooled latencies × routed@rate's: ${shadow.map((m, i) => (m.p99 / routedAtRate[i].p99).toFixed(2)).join(', ')} ` +
      `(a pool's p99 is set by the host's worst hiccups of the round; the table's ratio is the median over ${shadow.reduce((n, m) => n + (m.sliceP99?.length ?? 0), 0)} pairs of neighbouring 1 s slices).`
  const recording = recordingCost(runs)
  const md = `# Hot path vs bare node:http\n\ncommit ${sha}; ${machine}; ${knobs}\n\n${table}\n\n${[recording, recorded, pooled].filter(Boolean).join('\n\n')}\n`
  process.stdout.write(`\n${md}\n`)
  const dir = join(root, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const stem = join(dir, `${new Date().toISOString().slice(0, 10)}_${sha}_hot-path${ONLY ? '-partial' : ''}`)
  writeFileSync(`${stem}.md`, md)
  writeFileSync(`${stem}.json`, JSON.stringify({ commit: sha, machine, knobs: { CONNECTIONS, DURATION, RUNS, PIPELINING, ONLY }, rows, recording, verification }, null, 2) + '\n')
  process.stdout.write(`wrote ${stem}.md and .json\n`)
  if (ONLY === null) {
    const summary = [
      `${new Date().toISOString().slice(0, 10)}, commit ${sha}, ${machine}, ${knobs} ([full results](bench/results/${stem.split('/').pop()}.md)):`,
      '',
      '| scenario | what | req/s | p99 ms | ratio |',
      '|---|---|---:|---:|---|',
      ...rows.map((x) => `| ${x.scenario} | ${x.what} | ${x.reqPerSec} | ${x.p99Ms} | ${x.ratio} |`),
    ].join('\n')
    writeReadmeTable(join(root, 'README.md'), `${summary}\n\n${recording} ${recorded}`)
    process.stdout.write('updated the speed table in README.md\n')
  }
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
    cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SWITCHYARD_GRPC_PORT: '0' }, // gRPC off: the gateways run side by side
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
