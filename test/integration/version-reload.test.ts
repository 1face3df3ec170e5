/**
 * Issue #16: a remote version (version.yaml with an upstream, no model.onnx) answered native
 * predict with VERSION_HAS_NO_SIGNATURE "(no version.yaml)" although its version.yaml has a
 * signature: it had loaded before the signature was written (the upstream first, the
 * signature once it answers), and a version's version.yaml was never read again. A rescan now
 * loads a version again when its version.yaml changed, unless the edit would change the model
 * under the version's name (another upstream, another model.onnx): that needs a new folder.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, get, makeRepository, post, REPO_MODELS, startGateway } from './helpers.js'
import type { Running } from './helpers.js'
import { addRemoteVersion, startUpstream } from './remote-upstream.js'
import type { Upstream } from './remote-upstream.js'

const records = creditRecords(3, 16)
let repo: string
let upstream: Upstream
let gw: Running

const predict = (version: string) => post(`${gw.url}/v1/models/credit-risk/versions/${version}/predict`, { instances: records })
const stateOf = async (version: string) => (await get(`${gw.url}/v1/models/credit-risk`)).body.versions.find((v: { version: string }) => v.version === version)

beforeAll(async () => {
  upstream = await startUpstream('ok')
  repo = makeRepository({ 'credit-risk': { v1: 'v1' } })
  addRemoteVersion(repo, 'credit-risk', 'remote', upstream.url('credit-risk', 'remote'))
  // written as a person starts one: the upstream first, the signature once it answers
  mkdirSync(join(repo, 'credit-risk', 'edited'))
  writeFileSync(join(repo, 'credit-risk', 'edited', 'version.yaml'), stringify({ upstream: upstream.url('credit-risk', 'edited') }))
  mkdirSync(join(repo, 'credit-risk', 'broken-yaml'))
  writeFileSync(join(repo, 'credit-risk', 'broken-yaml', 'version.yaml'), 'upstream: [not, a, url]\n')
  gw = await startGateway({ modelsDir: repo })
})

afterAll(async () => {
  await gw.close()
  await upstream.close()
  rmSync(repo, { recursive: true, force: true })
})

describe('a remote version with a signature', () => {
  it('answers native predict by its signature', async () => {
    const res = await predict('remote')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ model: 'credit-risk', version: 'remote' })
    expect(res.body.predictions).toHaveLength(3)
    expect(res.body.predictions[0]).toMatchObject({ label: 0, probability: 0.125 })
  })

  it('without a signature says that its version.yaml has none, not that there is no version.yaml', async () => {
    const res = await predict('edited')
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('VERSION_HAS_NO_SIGNATURE')
    expect(res.body.error).toBe("model 'credit-risk' version 'edited' has no named feature signature (its version.yaml has none); add one (docs/models.md), or call POST /v2/models/credit-risk/versions/edited/infer with tensors")
  })

  it('answers by the signature added to its version.yaml once the repository is rescanned', async () => {
    addRemoteVersion(repo, 'credit-risk', 'edited', upstream.url('credit-risk', 'edited'))
    const outcome = await gw.gateway.pool.rescan()
    expect(outcome.reloaded).toEqual(['credit-risk/edited'])
    const res = await predict('edited')
    expect(res.status).toBe(200)
    expect(res.body.predictions[0]).toMatchObject({ label: 0, probability: 0.125 })
    expect((await gw.gateway.pool.rescan()).reloaded).toEqual([]) // nothing changed since
  })

  it('loads a version that failed once its version.yaml is fixed', async () => {
    expect((await stateOf('broken-yaml')).state).toBe('failed')
    addRemoteVersion(repo, 'credit-risk', 'broken-yaml', upstream.url('credit-risk', 'broken-yaml'))
    expect((await gw.gateway.pool.rescan()).reloaded).toEqual(['credit-risk/broken-yaml'])
    expect(await stateOf('broken-yaml')).toMatchObject({ state: 'ready', reason: null })
    expect((await predict('broken-yaml')).status).toBe(200)
  })

  it('keeps its upstream when an edit names another: a new model is a new version folder', async () => {
    writeFileSync(join(repo, 'credit-risk', 'remote', 'version.yaml'), stringify({ upstream: upstream.url('credit-risk', 'elsewhere') }))
    expect((await gw.gateway.pool.rescan()).reloaded).toEqual([])
    expect(await stateOf('remote')).toMatchObject({ state: 'ready', remote: upstream.url('credit-risk', 'remote') })
    expect((await predict('remote')).status).toBe(200)
  })
})

describe('a local version whose version.yaml is edited', () => {
  const folder = () => join(repo, 'credit-risk', 'local')
  const v1Yaml = readFileSync(join(REPO_MODELS, 'credit-risk', 'v1', 'version.yaml'), 'utf8')

  it('answers by the signature written after it loaded, from the next rescan', async () => {
    mkdirSync(folder())
    copyFileSync(join(REPO_MODELS, 'credit-risk', 'v1', 'model.onnx'), join(folder(), 'model.onnx'))
    expect((await gw.gateway.pool.rescan()).added).toEqual(['credit-risk/local'])
    const before = await predict('local')
    expect(before.body.error).toMatch(/\(it has no version.yaml\)/)
    writeFileSync(join(folder(), 'version.yaml'), v1Yaml)
    expect((await gw.gateway.pool.rescan()).reloaded).toEqual(['credit-risk/local'])
    const after = await predict('local')
    expect(after.status).toBe(200)
    expect(after.body.predictions.map((p: { probability: number }) => p.probability)).toEqual((await predict('v1')).body.predictions.map((p: { probability: number }) => p.probability))
  })

  it('keeps serving as it was when the edit fails to load', async () => {
    writeFileSync(join(folder(), 'version.yaml'), v1Yaml.replace('input: features', 'input: pixels')) // not an input of the model
    expect((await gw.gateway.pool.rescan()).reloaded).toEqual([])
    expect(await stateOf('local')).toMatchObject({ state: 'ready', reason: null })
    expect((await predict('local')).status).toBe(200)
  })

  it('keeps its model when model.onnx was replaced too', async () => {
    copyFileSync(join(REPO_MODELS, 'credit-risk', 'v3', 'model.onnx'), join(folder(), 'model.onnx'))
    writeFileSync(join(folder(), 'version.yaml'), v1Yaml.replace(/^sha256: .*$/m, '').replace(/^label: .*$/m, 'label: replaced'))
    expect((await gw.gateway.pool.rescan()).reloaded).toEqual([])
    expect(await stateOf('local')).toMatchObject({ state: 'ready', label: 'logistic-regression-all-features' })
  })
})
