/**
 * npm run bench:heavy (and the end of npm run bench): a compute-heavy model, where what counts is
 * how close the gateway comes to onnxruntime's own speed on the same input (issue #16).
 *
 *   ort-loop     onnxruntime's own loop: one session, one image a run, back to back, in a
 *                process of its own (servers/ort-loop.mjs): the reference
 *   v2-json      POST /v2/models/cnn/versions/1/infer, the image as 12,288 JSON numbers
 *   v2-binary    the same with the image as binary tensor data (Inference-Header-Content-Length)
 *   v2-batched   v2-binary on a version with dynamic batching (version.yaml batching:)
 *   grpc         ModelInfer over gRPC, the image as raw_input_contents, from a client
 *                process of its own (servers/grpc-load.mjs)
 *
 * The model is training/cnn.ts's CNN, [N,3,64,64] FP32, built here with its seeded weights.
 * CONNECTIONS (8) clients; each round measures the loop and then every scenario, in
 * alternating order; a scenario's ratio is its req/s ÷ the loop's runs/s in the same round,
 * and the median over RUNS (3) rounds of DURATION (10) seconds is reported, with the gateway's
 * CPU a request (its main thread, and the others: the session thread, V8's collectors), which
 * hardly depends on what else the machine is doing.
 */
import autocannon from 'autocannon'
import { execSync, fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildCnn, CNN_IMAGE_SHAPE, CNN_INPUT } from '../training/cnn.js'
import { cpuPerRequest, threadTicks } from './cpu-time.js'
import type { CpuPerRequest } from './cpu-time.js'
import { writeReadmeTable } from './readme-table.js'

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 8)
const DURATION = Number(process.env.DURATION ?? 10)
const RUNS = Number(process.env.RUNS ?? 3)
const root = new URL('..', import.meta.url).pathname
const IMAGE = [1, ...CNN_IMAGE_SHAPE]

/** The image every request sends, the same the loop runs on. */
const image = new Float32Array(IMAGE.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i) * 0.5 + 0.5)

interface Scenario {
  readonly name: string
  readonly what: string
  measure(seconds: number): Promise<number>
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-heavy-'))
  const models = join(dir, 'models')
  mkdirSync(join(models, 'cnn', '1'), { recursive: true })
  writeFileSync(join(models, 'cnn', '1', 'model.onnx'), buildCnn())
  mkdirSync(join(models, 'cnn-batched', '1'), { recursive: true })
  writeFileSync(join(models, 'cnn-batched', '1', 'model.onnx'), buildCnn())
  writeFileSync(join(models, 'cnn-batched', '1', 'version.yaml'), 'batching: { max_batch_size: 4, max_queue_delay_ms: 2 }\n')
  const loop = await startLoop(join(models, 'cnn', '1', 'model.onnx'))
  const gateway = await startGateway(models)
  const grpc = await startMeasurer(join(root, 'bench', 'servers', 'grpc-load.mjs'), [`127.0.0.1:${gateway.grpcPort}`, 'cnn', CNN_INPUT, String(CONNECTIONS), IMAGE.join(',')])
  const jsonBody = JSON.stringify({ inputs: [{ name: CNN_INPUT, shape: IMAGE, datatype: 'FP32', data: Array.from(image) }] })
  const header = JSON.stringify({ inputs: [{ name: CNN_INPUT, shape: IMAGE, datatype: 'FP32', parameters: { binary_data_size: image.byteLength } }] })
  const binaryBody = Buffer.concat([Buffer.from(header), Buffer.from(image.buffer)])
  const binaryHeaders = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) }
  const scenarios: Scenario[] = [
    { name: 'v2-json', what: 'POST /v2/models/cnn/versions/1/infer, JSON data', measure: (s) => load(gateway.port, '/v2/models/cnn/versions/1/infer', jsonBody, { 'content-type': 'application/json' }, s) },
    { name: 'v2-binary', what: 'the same, binary tensor data', measure: (s) => load(gateway.port, '/v2/models/cnn/versions/1/infer', binaryBody, binaryHeaders, s) },
    { name: 'v2-batched', what: 'binary, on a version with batching: { max_batch_size: 4, max_queue_delay_ms: 2 }', measure: (s) => load(gateway.port, '/v2/models/cnn-batched/versions/1/infer', binaryBody, binaryHeaders, s) },
    { name: 'grpc', what: 'ModelInfer over gRPC, raw_input_contents', measure: (s) => grpc.measure(s) },
  ]
  const rounds: Round[] = []
  try {
    for (const s of scenarios) await s.measure(2) // warm-up, not reported
    await loop.measure(2)
    for (let i = 0; i < RUNS; i++) {
      const loopRate = await loop.measure(DURATION)
      const rates = new Map<string, number>()
      const cpu = new Map<string, CpuPerRequest | null>()
      for (const s of i % 2 === 0 ? scenarios : [...scenarios].reverse()) {
        const before = threadTicks(gateway.child.pid!)
        const rate = await s.measure(DURATION)
        rates.set(s.name, rate)
        cpu.set(s.name, cpuPerRequest(gateway.child.pid!, before, threadTicks(gateway.child.pid!), Math.round(rate * DURATION)))
      }
      rounds.push({ loop: loopRate, rates, cpu })
      process.stdout.write(`round ${i + 1}: loop ${loopRate.toFixed(0)} runs/s, ${[...rates].map(([n, r]) => `${n} ${r.toFixed(0)} req/s`).join(', ')}\n`)
    }
  } finally {
    loop.child.kill()
    grpc.child.kill()
    gateway.child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
  report(scenarios, rounds)
}

interface Round {
  readonly loop: number
  readonly rates: Map<string, number>
  /** The gateway's CPU a request in each scenario (null where /proc is not there). */
  readonly cpu: Map<string, CpuPerRequest | null>
}

/** Median µs a request over the rounds, main thread + the others; blank where not measured. */
function describeCpu(rounds: readonly Round[], name: string): string {
  const cpu = rounds.map((r) => r.cpu.get(name)).filter((c): c is CpuPerRequest => c != null)
  return cpu.length === 0 ? '' : `${median(cpu.map((c) => c.mainUs)).toFixed(0)} + ${median(cpu.map((c) => c.otherUs)).toFixed(0)}`
}

function report(scenarios: Scenario[], rounds: Round[]): void {
  const sha = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`
  const knobs = `CONNECTIONS=${CONNECTIONS} DURATION=${DURATION}s RUNS=${RUNS}`
  const rows = [
    { scenario: 'ort-loop', what: "onnxruntime's own loop, one image a run", rate: median(rounds.map((r) => r.loop)), ratio: '', cpu: '' },
    ...scenarios.map((s) => ({
      scenario: s.name, what: s.what, rate: median(rounds.map((r) => r.rates.get(s.name)!)),
      ratio: `${median(rounds.map((r) => r.rates.get(s.name)! / r.loop)).toFixed(2)} × ort-loop`,
      cpu: describeCpu(rounds, s.name),
    })),
  ]
  const table = [
    '| scenario | what | req/s (median) | ratio (median of rounds) | gateway CPU µs a request: main thread + others |',
    '|---|---|---:|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.what} | ${Math.round(r.rate)} | ${r.ratio} | ${r.cpu} |`),
  ].join('\n')
  const each = rounds.map((r, i) => `round ${i + 1}: loop ${Math.round(r.loop)}, ${[...r.rates].map(([n, v]) => `${n} ${Math.round(v)}`).join(', ')}`).join('\n')
  const md = `# A heavy model against onnxruntime's own loop\n\ncommit ${sha}; ${machine}; ${knobs}\n\n${table}\n\n${each}\n`
  process.stdout.write(`\n${md}\n`)
  const dir = join(root, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const stem = join(dir, `${new Date().toISOString().slice(0, 10)}_${sha}_heavy`)
  writeFileSync(`${stem}.md`, md)
  writeFileSync(`${stem}.json`, JSON.stringify({ commit: sha, machine, knobs: { CONNECTIONS, DURATION, RUNS }, rows, rounds: rounds.map((r) => ({ loop: r.loop, ...Object.fromEntries(r.rates), cpu: Object.fromEntries(r.cpu) })) }, null, 2) + '\n')
  writeReadmeTable(join(root, 'bench', 'README.md'), `${new Date().toISOString().slice(0, 10)}, commit ${sha}, ${machine}, ${knobs} ([full results](results/${stem.split('/').pop()}.md)):\n\n${table}`, 'heavy')
  process.stdout.write(`wrote ${stem}.md and .json, and the heavy table in bench/README.md\n`)
}

async function load(port: number, path: string, body: string | Buffer, headers: Record<string, string>, seconds: number): Promise<number> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}${path}`, method: 'POST', body, headers, connections: CONNECTIONS, duration: seconds })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${path}: ${result.non2xx} non-2xx answers and ${result.errors} errors`)
  return result.requests.average
}

/** A process that measures on its own when asked {seconds}: onnxruntime's loop, or the gRPC load. */
function startMeasurer(script: string, args: string[]): Promise<{ child: ChildProcess; measure(seconds: number): Promise<number> }> {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const measure = (seconds: number) => new Promise<number>((resolve, reject) => {
    child.once('message', (m) => {
      const { rate, failed } = m as { rate: number; failed?: number }
      if (failed) reject(new Error(`${script}: ${failed} calls failed`))
      else resolve(rate)
    })
    child.send({ seconds })
  })
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve({ child, measure }))
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)))
  })
}

function startLoop(modelPath: string): ReturnType<typeof startMeasurer> {
  return startMeasurer(join(root, 'bench', 'servers', 'ort-loop.mjs'), [modelPath, ...IMAGE.map(String)])
}

async function startGateway(models: string): Promise<{ child: ChildProcess; port: number; grpcPort: number }> {
  const port = 19_000 + Math.floor(Math.random() * 1_000)
  const grpcPort = port + 1_000
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--models', models, '--routes', join(models, 'no-routes.yaml'),
    '--grpc-port', String(grpcPort),
    '--store', 'none', '--no-auth', '--no-watch', '--log-level', 'warn', '--max-body-bytes', String(4 * 1024 * 1024)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  for (let i = 0; i < 300; i++) {
    if (await fetch(`http://127.0.0.1:${port}/v2/health/ready`).then((r) => r.ok, () => false)) return { child, port, grpcPort }
    await new Promise((r) => setTimeout(r, 200))
  }
  child.kill()
  throw new Error('the gateway did not become ready')
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

await main()
