/**
 * What one change does to a hot-path endpoint: a gateway of another commit (A) against one of
 * this checkout (B), started together and measured in alternating rounds (ABBA), the ratios
 * taken within each round. On this shared machine a single change of a few per cent drowns
 * in the full bench's swings; two gateways measured seconds apart see the same host.
 *
 *   npm run bench:ab -- 59afd85            native endpoint, 6 rounds of 5 s
 *   SCENARIO=v2 ROUNDS=8 npm run bench:ab -- HEAD~2
 *
 * Prints each round's req/s and main-thread CPU a request, then the medians of B/A. Two
 * identical gateways differ by up to about 10 % (bench/README.md, native-twin): read a median
 * over several rounds, and repeat a surprising one. A's checkout (a temporary git worktree)
 * uses this checkout's node_modules, so compare commits with the same dependencies.
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import autocannon from 'autocannon'
import { CREDIT_FEATURES, generateCreditRows } from '../src/sample-data/credit-default.js'
import { cpuPerRequest, threadTicks } from './cpu-time.js'

const ref = process.argv[2]
if (ref === undefined) {
  process.stderr.write('usage: npm run bench:ab -- <git ref to compare this checkout with>\n')
  process.exit(2)
}
const ROUNDS = Number(process.env.ROUNDS ?? 6)
const DURATION = Number(process.env.DURATION ?? 5) // seconds a measurement
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50)
const SCENARIO = process.env.SCENARIO ?? 'native'

const row = generateCreditRows(1, 7)[0] as Record<string, number>
const endpoints: Record<string, { path: string; body: string }> = {
  native: { path: '/v1/models/credit-risk/versions/v1/predict', body: JSON.stringify({ instances: [Object.fromEntries(CREDIT_FEATURES.map((f) => [f, row[f]]))] }) },
  v2: {
    path: '/v2/models/credit-risk/versions/v1/infer',
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, CREDIT_FEATURES.length], datatype: 'FP32', data: CREDIT_FEATURES.map((f) => row[f]) }] }),
  },
}
const endpoint = endpoints[SCENARIO]
if (endpoint === undefined) throw new Error(`SCENARIO is one of ${Object.keys(endpoints).join(', ')}`)

const here = resolve(new URL('..', import.meta.url).pathname)
const other = mkdtempSync(join(tmpdir(), 'switchyard-ab-'))

interface Gateway { readonly name: string; readonly child: ChildProcess; readonly port: number }

async function start(name: string, root: string): Promise<Gateway> {
  const port = 18_000 + Math.floor(Math.random() * 1_000)
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'error',
    '--models', join(root, 'models'), '--routes', join(root, 'bench', 'servers', 'routes-split.yaml'), '--no-watch', '--store', 'none'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SWITCHYARD_GRPC_PORT: '0' } }) // gRPC off (older builds ignore the variable)
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v2/health/ready`)).status === 200) return { name, child, port }
    } catch { /* not listening yet */ }
  }
  throw new Error(`gateway ${name} did not become ready within 60 s`)
}

async function measure(g: Gateway): Promise<{ reqPerSec: number; mainUs: number }> {
  const before = threadTicks(g.child.pid!)
  const r = await autocannon({ url: `http://127.0.0.1:${g.port}${endpoint.path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: endpoint.body, connections: CONNECTIONS, duration: DURATION })
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`gateway ${g.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`)
  return { reqPerSec: r.requests.average, mainUs: cpuPerRequest(g.child.pid!, before, threadTicks(g.child.pid!), r.requests.total)?.mainUs ?? NaN }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const gateways: Gateway[] = []
try {
  execFileSync('git', ['worktree', 'add', '--detach', other, ref], { cwd: here, stdio: 'ignore' })
  symlinkSync(join(here, 'node_modules'), join(other, 'node_modules'))
  execFileSync(process.execPath, [join(here, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: other, stdio: 'inherit' })
  execFileSync(process.execPath, [join(here, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: here, stdio: 'inherit' })
  const a = await start(`A (${ref})`, other)
  const b = await start('B (this checkout)', here)
  gateways.push(a, b)
  await measure(a) // both warm up (optimised code, grown heap) before anything counts
  await measure(b)
  const speed: number[] = []
  const cpu: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const first = round % 2 === 0 ? a : b
    const second = first === a ? b : a
    const m = new Map([[first, await measure(first)], [second, await measure(second)]])
    const [ma, mb] = [m.get(a)!, m.get(b)!]
    speed.push(mb.reqPerSec / ma.reqPerSec)
    cpu.push(mb.mainUs / ma.mainUs)
    process.stdout.write(`round ${round + 1}: A ${Math.round(ma.reqPerSec)} req/s (${ma.mainUs} µs), B ${Math.round(mb.reqPerSec)} req/s (${mb.mainUs} µs)\n`)
  }
  process.stdout.write(`${SCENARIO}, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s: B/A req/s ${median(speed).toFixed(3)}, B/A main-thread CPU a request ${median(cpu).toFixed(3)} (medians)\n`)
} finally {
  for (const g of gateways) g.child.kill()
  execFileSync('git', ['worktree', 'remove', '--force', other], { cwd: here, stdio: 'ignore' })
  rmSync(other, { recursive: true, force: true })
}
