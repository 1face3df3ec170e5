/**
 * Issue #5, metrics: after real traffic, /metrics holds per-version counts and latency
 * histograms by model, version, route and role, mirror agreement, the weights and canary
 * step in force, version states and inference-log figures; promtool accepts the exposition;
 * a real Prometheus server (Debian's package) scrapes it and answers queries about it.
 */
import { execFile, spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, inParallel, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'
import { freePort } from './postgres.js'

const records = creditRecords(40, 9)
let dir: string
let gw: Running
let exposition = ''

/** The value of one sample line of the exposition, e.g. sample('x_total', { model: 'm' }). */
function sample(name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue
    const rest = line.slice(name.length)
    if (Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-metrics-'))
  const repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' }, churn: { v1: 'v1', v2: 'v2' } })
  writeFileSync(join(dir, 'routes.yaml'), `
routes:
  credit-risk:
    champion: v1
    challengers: { v2: 100 }
    shadow: { v3: 100 }
    labels: { stable: v1 }
  churn:
    canary:
      baseline: v1
      candidate: v2
      steps: [10, 50, 100]
      interval: 1h
`)
  gw = await startGateway({ modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill') })
  await inParallel(30, 5, (i) => post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [records[i]] }))
  await inParallel(10, 5, (i) => post(`${gw.url}/v1/models/credit-risk/versions/v3/predict`, { instances: [records[i]] }))
  await inParallel(5, 5, (i) => post(`${gw.url}/v1/models/credit-risk/labels/stable/predict`, { instances: [records[i]] }))
  await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [{ age: 30 }] }) // 400 FEATURE_MISSING
  await post(`${gw.url}/v1/models/credit-risk/versions/v9/predict`, { instances: [records[0]] }) // 404 VERSION_NOT_FOUND
  // shadows and challengers land after the answers
  const deadline = Date.now() + 10_000
  for (;;) {
    exposition = await fetch(`${gw.url}/metrics`).then((r) => r.text())
    if (sample('switchyard_inferences_total', { version: 'v2', role: 'challenger' }) === 30 && sample('switchyard_inferences_total', { version: 'v3', role: 'shadow' }) === 30) break
    if (Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, 50))
  }
  await gw.gateway.inferenceLog.flush()
  exposition = await fetch(`${gw.url}/metrics`).then((r) => r.text())
})

afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('/metrics after real traffic', () => {
  it('counts inferences by model, version, route, role and outcome', () => {
    expect(sample('switchyard_inferences_total', { model: 'credit-risk', version: 'v1', route: 'credit-risk', role: 'primary', outcome: 'ok' })).toBe(30)
    expect(sample('switchyard_inferences_total', { version: 'v2', route: 'credit-risk', role: 'challenger', outcome: 'ok' })).toBe(30)
    expect(sample('switchyard_inferences_total', { version: 'v3', route: 'credit-risk', role: 'shadow', outcome: 'ok' })).toBe(30)
    expect(sample('switchyard_inferences_total', { version: 'v3', route: 'direct', role: 'direct', outcome: 'ok' })).toBe(10)
    expect(sample('switchyard_inferences_total', { version: 'v1', route: 'label:stable', role: 'direct', outcome: 'ok' })).toBe(5)
  })

  it('has end-to-end and model-run latency histograms per version and role', () => {
    expect(sample('switchyard_request_duration_seconds_count', { version: 'v1', route: 'credit-risk', role: 'primary' })).toBe(30)
    expect(sample('switchyard_request_duration_seconds_bucket', { version: 'v1', role: 'primary', le: '+Inf' })).toBe(30)
    expect(sample('switchyard_model_run_duration_seconds_count', { version: 'v3', role: 'shadow' })).toBe(30)
    expect(sample('switchyard_request_duration_seconds_count', { version: 'v3', role: 'shadow' })).toBeUndefined() // a shadow answers nobody
    expect(sample('switchyard_request_duration_seconds_sum', { version: 'v1', role: 'primary' })).toBeGreaterThan(0)
  })

  it('counts error answers by status and code', () => {
    expect(sample('switchyard_http_errors_total', { status: '400', code: 'FEATURE_MISSING' })).toBe(1)
    expect(sample('switchyard_http_errors_total', { status: '404', code: 'VERSION_NOT_FOUND' })).toBe(1)
  })

  it('shows agreement of challengers and shadows with the primary', () => {
    expect(sample('switchyard_mirror_compared_rows_total', { version: 'v2', role: 'challenger' })).toBe(30)
    const agreed = sample('switchyard_mirror_agreed_rows_total', { version: 'v2', role: 'challenger' })!
    expect(sample('switchyard_mirror_agreement_ratio', { version: 'v2', role: 'challenger' })).toBeCloseTo(agreed / 30, 6)
  })

  it('shows the weights and canary step in force, and each version\'s state', () => {
    expect(sample('switchyard_route_weight_percent', { model: 'credit-risk', version: 'v1' })).toBe(100)
    expect(sample('switchyard_route_weight_percent', { model: 'churn', version: 'v1' })).toBe(90)
    expect(sample('switchyard_route_weight_percent', { model: 'churn', version: 'v2' })).toBe(10)
    expect(sample('switchyard_canary_step_percent', { model: 'churn', status: 'progressing' })).toBe(10)
    expect(sample('switchyard_model_version_state', { model: 'churn', version: 'v2', state: 'ready' })).toBe(1)
    expect(sample('switchyard_model_version_state', { model: 'churn', version: 'v2', state: 'failed' })).toBe(0)
    expect(sample('switchyard_config_revision')).toBe(1)
  })

  it('reports the inference log: written, queue, store up', () => {
    expect(sample('switchyard_inference_log_written_total')).toBe(30 + 30 + 30 + 10 + 5)
    expect(sample('switchyard_inference_log_queue_depth')).toBe(0)
    expect(sample('switchyard_inference_log_store_up')).toBe(1)
    expect(sample('process_cpu_seconds_total')).toBeGreaterThan(0)
  })

  it('passes promtool\'s check of names and conventions (for our metrics; prom-client names three process gauges *_total)', async () => {
    requireDebianTool('promtool')
    const child = execFile('promtool', ['check', 'metrics'])
    const out = new Promise<{ code: number | null; text: string }>((resolve) => {
      let text = ''
      child.stdout!.on('data', (c) => (text += c))
      child.stderr!.on('data', (c) => (text += c))
      child.on('exit', (code) => resolve({ code, text }))
    })
    child.stdin!.end(exposition)
    const { text } = await out
    const problems = text.split('\n').filter((l) => l.trim() !== '')
    expect(problems.filter((l) => !/^nodejs_active_(handles|requests|resources)_total /.test(l))).toEqual([])
  })
})

/** Fail at once, saying what to install, rather than wait out a timeout on a machine without it. */
function requireDebianTool(command: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
  expect(found, `${command} is not installed: apt-get install prometheus (.ci/run does)`).toBe(true)
}

describe('a real Prometheus server', () => {
  let prometheus: ChildProcess
  let api = ''
  afterAll(() => {
    prometheus?.kill('SIGKILL')
  })

  it('scrapes the gateway and answers a query on its metrics', async () => {
    requireDebianTool('prometheus')
    const port = await freePort()
    api = `http://127.0.0.1:${port}/api/v1`
    const target = new URL(gw.url).host
    writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: switchyard\n    static_configs:\n      - targets: ['${target}']\n`)
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' })
    const query = async (q: string) => {
      const res = await fetch(`${api}/query?query=${encodeURIComponent(q)}`).catch(() => null)
      const body = (await res?.json().catch(() => null)) as { data?: { result?: { value: [number, string] }[] } } | null
      return body?.data?.result?.[0]?.value[1]
    }
    const deadline = Date.now() + 30_000
    let primaries: string | undefined
    while (Date.now() < deadline) {
      primaries = await query('sum(switchyard_inferences_total{model="credit-risk",role="primary"})')
      if (primaries !== undefined) break
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(primaries).toBe('30')
    expect(await query('up{job="switchyard"}')).toBe('1')
    expect(Number(await query('switchyard_mirror_agreement_ratio{version="v2",role="challenger"}'))).toBeGreaterThan(0)
  })
})
