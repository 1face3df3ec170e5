/**
 * Issue #2: scanning the model repository. A version that fails to load — corrupt file,
 * wrong sha256, bad version.yaml, a signature that does not fit — is reported with its
 * reason and never takes the others down; a folder with only model.onnx is served via V2.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREDIT_FEATURES, generateCreditRows } from '../../src/sample-data/credit-default.js'
import { get, makeRepository, post, REPO_MODELS, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const good = join(REPO_MODELS, 'credit-risk', 'v1')
const goodYaml = readFileSync(join(good, 'version.yaml'), 'utf8')
let dir: string
let gw: Running

function version(name: string, files: { onnx?: Buffer | 'good'; yaml?: string }): void {
  const d = join(dir, 'credit-risk', name)
  mkdirSync(d, { recursive: true })
  if (files.onnx === 'good') copyFileSync(join(good, 'model.onnx'), join(d, 'model.onnx'))
  else if (files.onnx !== undefined) writeFileSync(join(d, 'model.onnx'), files.onnx)
  if (files.yaml !== undefined) writeFileSync(join(d, 'version.yaml'), files.yaml)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-repo-'))
  mkdirSync(join(dir, 'credit-risk'))
  copyFileSync(join(REPO_MODELS, 'credit-risk', 'model.yaml'), join(dir, 'credit-risk', 'model.yaml'))
  version('good', { onnx: 'good', yaml: goodYaml })
  version('corrupt', { onnx: Buffer.from('this is not an ONNX protobuf at all, just bytes'), yaml: goodYaml.replace(/^sha256:.*$/m, '') })
  version('truncated', { onnx: readFileSync(join(good, 'model.onnx')).subarray(0, 200), yaml: goodYaml.replace(/^sha256:.*$/m, '') })
  version('tampered', { onnx: 'good', yaml: goodYaml.replace(/^sha256:.*$/m, `sha256: "${'0'.repeat(64)}"`) })
  version('bad-yaml', { onnx: 'good', yaml: `${goodYaml}\nunexpected_key: 1\n` })
  version('no-onnx', { yaml: goodYaml })
  version('onnx-only', { onnx: 'good' })
  version('wrong-signature', { onnx: 'good', yaml: readFileSync(join(REPO_MODELS, 'iris', 'v1', 'version.yaml'), 'utf8').replace(/^sha256:.*$/m, '') })
  version('fifo-yaml', { onnx: 'good' })
  execFileSync('mkfifo', [join(dir, 'credit-risk', 'fifo-yaml', 'version.yaml')]) // issue #14: reading it hung every later scan
  version('.hidden', { onnx: 'good' })
  version('has space', { onnx: 'good' })
  gw = await startGateway({ modelsDir: dir })
})

afterAll(async () => {
  await gw.close()
  rmSync(dir, { recursive: true, force: true })
})

const record = Object.fromEntries(CREDIT_FEATURES.map((f) => [f, (generateCreditRows(1, 5)[0] as Record<string, number>)[f]]))

describe('model repository', () => {
  it('reports every version with its state and the reason for each failure', async () => {
    const res = await get(`${gw.url}/v1/models/credit-risk`)
    const states = Object.fromEntries(res.body.versions.map((v: { version: string; state: string; reason: string | null }) => [v.version, `${v.state}: ${v.reason ?? ''}`]))
    expect(Object.keys(states).sort()).toEqual(['bad-yaml', 'corrupt', 'fifo-yaml', 'good', 'no-onnx', 'onnx-only', 'tampered', 'truncated', 'wrong-signature'])
    expect(states['fifo-yaml']).toMatch(/^failed: version.yaml is invalid: .*version.yaml: it is not a regular file/)
    expect(states.good).toBe('ready: ')
    expect(states['onnx-only']).toBe('ready: ')
    expect(states.corrupt).toMatch(/^failed: onnxruntime cannot load model.onnx/)
    expect(states.truncated).toMatch(/^failed: onnxruntime cannot load model.onnx/)
    expect(states.tampered).toMatch(/^failed: sha256 mismatch: version.yaml says 0{64}, model.onnx is [0-9a-f]{64}/)
    expect(states['bad-yaml']).toMatch(/^failed: version.yaml is invalid: .*unexpected_key/)
    expect(states['no-onnx']).toBe('failed: the folder has no model.onnx (and version.yaml names no upstream)')
    expect(states['wrong-signature']).toMatch(/^failed: signature input 'features' has shape \[-1, 22\]; 4 features need \[N, 4\]/)
  })

  it('keeps serving the good version next to the failed ones', async () => {
    const res = await post(`${gw.url}/v1/models/credit-risk/versions/good/predict`, { instances: [record] })
    expect(res.status).toBe(200)
    expect(res.body.predictions).toHaveLength(1)
    expect((await get(`${gw.url}/v2/health/ready`)).status).toBe(200)
  })

  it('answers a failed version with 503 VERSION_FAILED and its reason, never a crash', async () => {
    const res = await post(`${gw.url}/v1/models/credit-risk/versions/corrupt/predict`, { instances: [record] })
    expect(res.status).toBe(503)
    expect(res.body.code).toBe('VERSION_FAILED')
    expect(res.body.error).toContain('onnxruntime cannot load model.onnx')
    expect((await get(`${gw.url}/v2/models/credit-risk/versions/tampered/ready`))).toMatchObject({ status: 503, body: { ready: false } })
  })

  it('serves a folder with only model.onnx through V2, with the metadata the file carries', async () => {
    const meta = await get(`${gw.url}/v2/models/credit-risk/versions/onnx-only`)
    expect(meta.body.inputs).toEqual([{ name: 'features', datatype: 'FP32', shape: [-1, 22] }])
    const res = await post(`${gw.url}/v2/models/credit-risk/versions/onnx-only/infer`, {
      inputs: [{ name: 'features', shape: [1, 22], datatype: 'FP32', data: CREDIT_FEATURES.map((f) => record[f]) }],
    })
    expect(res.status).toBe(200)
    const native = await post(`${gw.url}/v1/models/credit-risk/versions/onnx-only/predict`, { instances: [record] })
    expect(native).toMatchObject({ status: 400, body: { code: 'VERSION_HAS_NO_SIGNATURE' } })
  })

  it('skips folders whose names are not valid version ids', async () => {
    expect((await get(`${gw.url}/v1/models/credit-risk`)).body.versions.map((v: { version: string }) => v.version)).not.toContain('.hidden')
  })
})

describe('old versions keep answering after new ones arrive', () => {
  it('v1 answers the same before and after v2 and v3 are added to the repository', async () => {
    const only = mkdtempSync(join(tmpdir(), 'switchyard-v1-'))
    try {
      mkdirSync(join(only, 'credit-risk', 'v1'), { recursive: true })
      for (const f of ['model.onnx', 'version.yaml']) copyFileSync(join(good, f), join(only, 'credit-risk', 'v1', f))
      const before = await startGateway({ modelsDir: only })
      const first = await post(`${before.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [{ id: 'same', ...record }] })
      await before.close()
      const full = await startGateway()
      const second = await post(`${full.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [{ id: 'same', ...record }] })
      const newest = await post(`${full.url}/v1/models/credit-risk/versions/v3/predict`, { instances: [record] })
      await full.close()
      expect(second.body).toEqual(first.body)
      expect(newest.status).toBe(200)
    } finally {
      rmSync(only, { recursive: true, force: true })
    }
  })
})

describe('versions added to or removed from models/ without a restart', () => {
  it('loads an added version and drains a removed one before releasing it', async () => {
    const repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
    const running = await startGateway({ modelsDir: repo, watchRoutes: true })
    try {
      const url = (v: string) => `${running.url}/v1/models/credit-risk/versions/${v}/predict`
      const v2 = running.gateway.pool.getVersion('credit-risk', 'v2')
      // a request in flight on v2 when it is removed still gets its answer
      const inFlight = Array.from({ length: 20 }, () => post(url('v2'), { instances: [record] }))
      rmSync(join(repo, 'credit-risk', 'v2'), { recursive: true })
      mkdirSync(join(repo, 'credit-risk', 'v3'))
      for (const f of ['model.onnx', 'version.yaml']) copyFileSync(join(REPO_MODELS, 'credit-risk', 'v3', f), join(repo, 'credit-risk', 'v3', f))
      expect((await Promise.all(inFlight)).map((r) => r.status)).toEqual(Array(20).fill(200))
      const deadline = Date.now() + 5_000 // picked up by the watcher
      let versions: string[] = []
      while (Date.now() < deadline) {
        versions = (await get(`${running.url}/v1/models/credit-risk`)).body.versions.map((v: { version: string; state: string }) => `${v.version}:${v.state}`)
        if (versions.join() === 'v1:ready,v3:ready') break
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(versions).toEqual(['v1:ready', 'v3:ready'])
      expect((await post(url('v3'), { instances: [record] })).status).toBe(200)
      expect(await post(url('v2'), { instances: [record] })).toMatchObject({ status: 404, body: { code: 'VERSION_NOT_FOUND' } })
      // the removed version's session is released once drained (after a 1 s grace period)
      const released = Date.now() + 5_000
      while (v2.session !== null && Date.now() < released) await new Promise((r) => setTimeout(r, 50))
      expect(v2.state).toBe('draining')
      expect(v2.session).toBeNull()
      expect(v2.runner).toBeNull()
    } finally {
      await running.close()
      rmSync(repo, { recursive: true, force: true })
    }
  })
})
