/**
 * Issue #16: warm-up is best-effort. A model that checks its input values (like Silero VAD,
 * whose `sr` must be 8000 or 16000) cannot run on the synthetic rows of zeros; it must still
 * serve real requests, show why its warm-up failed, and have its mirrors placed without a
 * timed run. version.yaml's `warmup.inputs` give the rows to warm (and time) it with.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runsInline } from '../../src/mirrors/mirrors.js'
import { GraphBuilder } from '../../training/onnx/model-writer.js'
import { eventually, get, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

/**
 * input [N, 4] and sr [N, 1] -> the row's sum, scaled by 0.5 at 8 kHz and 2 at 16 kHz. The
 * scale is gathered at index sr / 8000 - 3, which is out of bounds for any other rate, so
 * onnxruntime throws at run time on zeros (as it does on 44100) and runs on a real rate.
 */
function sampleRateModel(): Uint8Array {
  const g = new GraphBuilder('vad').input('input', 'float32', ['N', 4]).input('sr', 'int64', ['N', 1])
  g.initializer('per_rate', 'int64', [], [8000])
  g.initializer('offset', 'int64', [], [3])
  g.initializer('scale', 'float32', [2], [0.5, 2])
  g.initializer('axis', 'int64', [1], [1])
  g.node('Div', ['sr', 'per_rate'], ['rate']).node('Sub', ['rate', 'offset'], ['index'])
  g.node('Gather', ['scale', 'index'], ['factor'], { axis: 0 })
  g.node('Mul', ['input', 'factor'], ['scaled']).node('ReduceSum', ['scaled', 'axis'], ['speech'], { keepdims: 0 })
  return g.output('speech', 'float32', ['N']).encode()
}

const WARMUP = 'warmup:\n  inputs:\n    input: { shape: [1, 4], data: [0.1, 0.2, 0.3, 0.4] }\n    sr: { shape: [1, 1], data: [16000] }\n'
const infer = (rate: number) => ({
  inputs: [
    { name: 'input', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4, 0, 0, 0, 1] },
    { name: 'sr', datatype: 'INT64', shape: [2, 1], data: [rate, rate] },
  ],
})

let repo: string
let gw: Running

beforeAll(async () => {
  repo = makeRepository({})
  const version = (name: string, yaml: string | null) => {
    mkdirSync(join(repo, 'vad', name), { recursive: true })
    writeFileSync(join(repo, 'vad', name, 'model.onnx'), sampleRateModel())
    if (yaml !== null) writeFileSync(join(repo, 'vad', name, 'version.yaml'), yaml)
  }
  version('1', null)
  version('2', WARMUP)
  version('short-data', 'warmup:\n  inputs:\n    input: { shape: [1, 4], data: [0.1, 0.2, 0.3] }\n    sr: { shape: [1, 1], data: [16000] }\n')
  version('unknown-input', `${WARMUP}    rate: { shape: [1], data: [16000] }\n`)
  version('missing-input', 'warmup:\n  inputs:\n    input: { shape: [1, 4], data: [0.1, 0.2, 0.3, 0.4] }\n')
  version('wrong-width', 'warmup:\n  inputs:\n    input: { shape: [1, 2], data: [0.1, 0.2] }\n    sr: { shape: [1, 1], data: [16000] }\n')
  const routes = join(repo, 'routes.yaml')
  writeFileSync(routes, 'routes:\n  vad:\n    split: { "2": 100 }\n    shadow: { "1": 100 }\n')
  gw = await startGateway({ modelsDir: repo, routesPath: routes })
})

afterAll(async () => {
  await gw.close()
  rmSync(repo, { recursive: true, force: true })
})

const versionsOf = async () => Object.fromEntries((await get(`${gw.url}/v1/models/vad`)).body.versions.map((v: { version: string }) => [v.version, v]))

describe('a model whose synthetic warm-up fails', () => {
  it('is ready, and answers real requests', async () => {
    const res = await post(`${gw.url}/v2/models/vad/versions/1/infer`, infer(16000))
    expect(res.status).toBe(200)
    expect(res.body.outputs[0]).toMatchObject({ name: 'speech', data: [20, 2] })
    expect((await post(`${gw.url}/v2/models/vad/versions/1/infer`, infer(8000))).body.outputs[0].data).toEqual([5, 0.5])
  })

  it('shows the failed warm-up in the catalog, and where its mirrors run without a timed run', async () => {
    const v1 = (await versionsOf())['1']
    expect(v1).toMatchObject({ state: 'ready', reason: null, batch_run_ms: null, mirrors_run_on: 'mirror worker' })
    expect(v1.warmup).toMatch(/^failed: .*Gather.*indices element out of data bounds/)
  })
})

describe('warm-up inputs in version.yaml', () => {
  it('make the warm-up succeed and time a batch', async () => {
    const v2 = (await versionsOf())['2']
    expect(v2).toMatchObject({ state: 'ready', warmup: 'ok', mirrors_run_on: 'request thread' })
    expect(v2.batch_run_ms).toBeGreaterThan(0)
    expect(v2.batch_run_ms).toBeLessThan(1)
  })

  it('that do not fit the model fail the version with the problem named', async () => {
    const versions = await versionsOf()
    const reason = (v: string) => `${versions[v].state}: ${versions[v].reason}`
    expect(reason('short-data')).toMatch(/^failed: version.yaml is invalid: .*warmup\.inputs\.input: data has 3 values; shape \[1, 4\] holds 4/)
    expect(reason('unknown-input')).toBe("failed: version.yaml warmup.inputs names 'rate', which is not an input of model.onnx (inputs: input, sr)")
    expect(reason('missing-input')).toBe("failed: version.yaml warmup.inputs has no 'sr'; give every input of model.onnx (inputs: input, sr)")
    expect(reason('wrong-width')).toBe("failed: version.yaml warmup.inputs.input has shape [1, 2]; model.onnx's input 'input' is [-1, 4]")
  })
})

describe('mirror placement', () => {
  it('runs the mirror of a version without a timed run on the mirror worker, the timed cheap one on the request thread', async () => {
    const pool = gw.gateway.pool
    expect(runsInline(pool.getReadyVersion('vad', '1'))).toBe(false)
    expect(runsInline(pool.getReadyVersion('vad', '2'))).toBe(true)
    for (let i = 0; i < 5; i++) expect((await post(`${gw.url}/v2/models/vad/infer`, infer(8000))).status).toBe(200)
    // the shadow whose warm-up failed still loads and runs on the mirror worker, every request scored
    await eventually(() => {
      expect(gw.gateway.mirrors.statFor('vad', '1', 'shadow')).toMatchObject({ requests: 5, errors: 0, dropped: 0 })
      return Promise.resolve()
    }, 20_000)
    expect(pool.getReadyVersion('vad', '1').runner!.stats.requests).toBe(2) // only the direct calls above ran on the request thread
  })
})
