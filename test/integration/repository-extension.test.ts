/**
 * Issue #16 (point 6): Triton's model repository extension on a real gateway. The index lists
 * every version with Triton's states, and folders not loaded yet; an admin unloads a model
 * (503 VERSION_UNLOADED until it is loaded again) unless it takes live traffic (409 naming the
 * route); load (re)reads the folder, picks up new models and versions, and a failed reload
 * leaves the serving version serving. Both are in the activity log under the caller's name.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, eventually, makeRepository, REPO_MODELS, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const token = (name: string) => `sy_test_${name}`
const TOKENS = [['root', 'admin'], ['alice', 'editor'], ['vera', 'viewer']]
  .map(([name, role]) => `${name}:${role}:${createHash('sha256').update(token(name)).digest('hex')}`).join(',')
const features = Object.values(creditRecords(1, 7)[0])
const inferBody = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 22], data: features }] }

let dir: string
let repo: string
let gw: Running

async function call(method: string, path: string, user: string | null, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (user !== null) headers.authorization = `Bearer ${token(user)}`
  const res = await fetch(`${gw.url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

const infer = (model: string, version: string) => call('POST', `/v2/models/${model}/versions/${version}/infer`, null, inferBody)

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-repository-'))
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' }, fraud: { v1: 'v1', v2: 'v3' } })
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  credit-risk:\n    split: { v1: 100 }\n')
  gw = await startGateway({
    modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill'),
    auth: true, tokensPath: join(dir, 'no-tokens-file.yaml'), tokensFromEnv: TOKENS,
  })
})

afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
  rmSync(repo, { recursive: true, force: true })
})

describe('POST /v2/repository/index', () => {
  it('is listed among the protocol extensions of GET /v2', async () => {
    expect((await call('GET', '/v2', null)).body.extensions).toContain('model_repository')
  })

  it('lists every version with its Triton state, with or without a body', async () => {
    const expected = [
      { name: 'credit-risk', version: 'v1', state: 'READY', reason: '' },
      { name: 'credit-risk', version: 'v2', state: 'READY', reason: '' },
      { name: 'fraud', version: 'v1', state: 'READY', reason: '' },
      { name: 'fraud', version: 'v2', state: 'READY', reason: '' },
    ]
    expect(await call('POST', '/v2/repository/index', 'vera')).toEqual({ status: 200, body: expected })
    expect(await call('POST', '/v2/repository/index', 'vera', {})).toEqual({ status: 200, body: expected })
  })

  it('refuses a body of the wrong shape with a 400 saying what to send', async () => {
    const res = await call('POST', '/v2/repository/index', 'vera', { ready: 'yes' })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('BODY_INVALID')
    expect(res.body.error).toMatch(/ready: Invalid input: expected boolean, received string; send no body, \{\} or \{"ready": true\}$/)
    expect((await call('POST', '/v2/repository/index', 'vera', { readdy: true })).body.code).toBe('BODY_INVALID')
  })
})

describe('unload and load', () => {
  it('refuses an editor: loading and unloading need the admin role', async () => {
    const res = await call('POST', '/v2/repository/models/fraud/unload', 'alice')
    expect(res.status).toBe(403)
    expect(res.body.code).toBe('FORBIDDEN')
    expect((await infer('fraud', 'v1')).status).toBe(200)
  })

  it('refuses to unload a model that routes.yaml sends live traffic to, naming the route', async () => {
    const res = await call('POST', '/v2/repository/models/credit-risk/unload', 'root')
    expect(res.status).toBe(409)
    expect(res.body.code).toBe('MODEL_TAKES_LIVE_TRAFFIC')
    expect(res.body.error).toContain("in routes.yaml (route 'credit-risk')")
    expect(res.body.live_traffic).toEqual({ 'credit-risk/v1': "in routes.yaml (route 'credit-risk')" })
    expect((await call('POST', '/v1/models/credit-risk/predict', null, { instances: creditRecords(1, 2) })).status).toBe(200)
  })

  it('unloads a model: 503 VERSION_UNLOADED until it is loaded again, UNAVAILABLE in the index', async () => {
    const res = await call('POST', '/v2/repository/models/fraud/unload', 'root')
    expect(res.status).toBe(200)
    expect(res.body.map((e: any) => e.state)).toEqual(['UNAVAILABLE', 'UNAVAILABLE'])
    const refused = await infer('fraud', 'v2')
    expect(refused.status).toBe(503)
    expect(refused.body.code).toBe('VERSION_UNLOADED')
    expect(refused.body.error).toContain('POST /v2/repository/models/fraud/load')
    expect((await call('GET', '/v2/models/fraud/versions/v1/ready', null)).status).toBe(503)
    const index = (await call('POST', '/v2/repository/index', 'vera')).body.filter((e: any) => e.name === 'fraud')
    expect(index[0]).toEqual({ name: 'fraud', version: 'v1', state: 'UNAVAILABLE', reason: 'unloaded; POST /v2/repository/models/fraud/load loads it again' })
    expect((await call('POST', '/v2/repository/index', 'vera', { ready: true })).body.map((e: any) => e.name)).toEqual(['credit-risk', 'credit-risk'])
    expect((await call('GET', '/v1/models/fraud', 'vera')).body.versions.map((v: any) => v.state)).toEqual(['unloaded', 'unloaded'])
    expect((await call('GET', '/v1/models/fraud/versions/v1', null)).body.model_version_status[0].state).toBe('END') // TF Serving's word
    for (const v of gw.gateway.pool.getModel('fraud').versions.values()) expect(v.session).toBeNull() // released, not just hidden
  })

  it('loads it again, and both calls are in the activity log under the caller', async () => {
    const res = await call('POST', '/v2/repository/models/fraud/load', 'root')
    expect(res).toEqual({ status: 200, body: [
      { name: 'fraud', version: 'v1', state: 'READY', reason: '' },
      { name: 'fraud', version: 'v2', state: 'READY', reason: '' },
    ] })
    expect((await infer('fraud', 'v2')).status).toBe(200)
    const activity = await eventually(async () => {
      const list = (await call('GET', '/v1/activity?model=fraud', 'vera')).body.activity.filter((a: any) => a.kind.startsWith('model-'))
      expect(list).toHaveLength(2)
      return list
    })
    expect(activity.map((a: any) => [a.kind, a.actor]).sort()).toEqual([['model-loaded', 'root'], ['model-unloaded', 'root']])
  })

  it('lists a model folder added after the start, and loads it', async () => {
    cpSync(join(repo, 'fraud'), join(repo, 'late'), { recursive: true })
    const index = (await call('POST', '/v2/repository/index', 'vera')).body
    expect(index.filter((e: any) => e.name === 'late')).toEqual([{ name: 'late', state: 'UNAVAILABLE', reason: 'not loaded yet: POST /v2/repository/models/late/load' }])
    expect((await infer('late', 'v1')).body.code).toBe('MODEL_NOT_FOUND')
    expect((await call('POST', '/v2/repository/models/late/load', 'root')).status).toBe(200)
    expect((await infer('late', 'v1')).status).toBe(200)
    expect((await call('GET', '/v1/models/late/versions', 'vera')).body.versions.map((v: any) => v.stage)).toEqual(['Unassigned', 'Unassigned'])
  })

  it('answers 404 for a model with no folder, and 400 for load parameters it does not take', async () => {
    const missing = await call('POST', '/v2/repository/models/nothing-here/load', 'root')
    expect(missing.status).toBe(404)
    expect(missing.body.code).toBe('MODEL_NOT_IN_REPOSITORY')
    const config = await call('POST', '/v2/repository/models/fraud/load', 'root', { parameters: { config: '{}' } })
    expect(config.status).toBe(400)
    expect(config.body.error).toContain('load takes no parameters')
  })

  it('keeps a serving version serving when its reload fails, and says why with 422', async () => {
    const before = await infer('fraud', 'v1')
    writeFileSync(join(repo, 'fraud', 'v1', 'model.onnx'), 'not an onnx file any more')
    const res = await call('POST', '/v2/repository/models/fraud/load', 'root')
    expect(res.status).toBe(422)
    expect(res.body.code).toBe('MODEL_LOAD_FAILED')
    expect(res.body.failed).toEqual([{ version: 'v1', reason: expect.stringMatching(/sha256 mismatch|onnxruntime cannot load/) }])
    const after = await infer('fraud', 'v1')
    expect(after.status).toBe(200)
    expect(after.body.outputs).toEqual(before.body.outputs)
    cpSync(join(REPO_MODELS, 'credit-risk', 'v1', 'model.onnx'), join(repo, 'fraud', 'v1', 'model.onnx'))
  })
})
