/**
 * Issue #16, point 7: a heavy version's session runs on a thread of its own (session-thread.ts),
 * so that the request thread reads and answers requests while a batch runs. Decided by the timed
 * warm run, or by version.yaml's `session_thread`; on the real CNN of the benchmark (training/cnn.ts).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionThread } from '../../src/runtime/session-thread.js'
import { buildCnn, CNN_CLASSES, CNN_IMAGE_SHAPE, CNN_INPUT, CNN_OUTPUT } from '../../training/cnn.js'
import { get, post, REPO_MODELS, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const PIXELS = CNN_IMAGE_SHAPE.reduce((a, b) => a * b, 1)
const IRIS = [5.1, 3.5, 1.4, 0.2]
let dir: string
let gw: Running | null = null
let direct: ort.InferenceSession

function image(k: number): Float32Array {
  return new Float32Array(PIXELS).map((_, i) => Math.sin(i * 0.01 + k) * 0.5 + 0.5)
}

/** What onnxruntime answers for image `k` run on its own, on this thread. */
async function alone(k: number): Promise<number[]> {
  const out = await direct.run({ [CNN_INPUT]: new ort.Tensor('float32', image(k), [1, ...CNN_IMAGE_SHAPE]) })
  return Array.from(out[CNN_OUTPUT].data as Float32Array)
}

const infer = (model: string, k: number) =>
  post(`${gw!.url}/v2/models/${model}/versions/1/infer`, { inputs: [{ name: CNN_INPUT, shape: [1, ...CNN_IMAGE_SHAPE], datatype: 'FP32', data: Array.from(image(k)) }] })

const inferIris = (model: string) =>
  post(`${gw!.url}/v2/models/${model}/versions/1/infer`, { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: IRIS }] })

const versionOf = async (model: string) => (await get(`${gw!.url}/v1/models/${model}`)).body.versions[0]

function threadOf(model: string): SessionThread {
  const thread = gw!.gateway.pool.getVersion(model, '1').sessionThread
  if (thread === null) throw new Error(`${model} has no session thread`)
  return thread
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length)
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected[i])))
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-session-thread-'))
  const cnn = buildCnn()
  const models = join(dir, 'models')
  for (const [name, yaml] of [['cnn', null], ['cnn-batched', 'batching: { max_batch_size: 4, max_queue_delay_ms: 5 }\n'], ['cnn-inline', 'session_thread: false\n']] as const) {
    mkdirSync(join(models, name, '1'), { recursive: true })
    writeFileSync(join(models, name, '1', 'model.onnx'), cnn)
    if (yaml !== null) writeFileSync(join(models, name, '1', 'version.yaml'), yaml)
  }
  for (const [name, extra] of [['iris', ''], ['iris-threaded', 'session_thread: true\n']] as const) {
    mkdirSync(join(models, name, '1'), { recursive: true })
    copyFileSync(join(REPO_MODELS, 'iris', 'v1', 'model.onnx'), join(models, name, '1', 'model.onnx'))
    writeFileSync(join(models, name, '1', 'version.yaml'), readFileSync(join(REPO_MODELS, 'iris', 'v1', 'version.yaml'), 'utf8') + extra)
  }
  direct = await ort.InferenceSession.create(cnn)
  gw = await startGateway({ modelsDir: models })
})

afterAll(async () => {
  await gw?.close()
  await direct?.release()
  rmSync(dir, { recursive: true, force: true })
})

describe('where a version\'s session runs', () => {
  it('puts the CNN (a long timed run) on a session thread and a light sample model on the request thread', async () => {
    const cnn = await versionOf('cnn')
    expect(cnn).toMatchObject({ state: 'ready', warmup: 'ok', session_runs_on: 'session thread' })
    expect(cnn.batch_run_ms).toBeGreaterThan(2)
    const iris = await versionOf('iris')
    expect(iris).toMatchObject({ state: 'ready', warmup: 'ok', session_runs_on: 'request thread' })
    expect(iris.batch_run_ms).toBeLessThan(2)
    expect(gw!.gateway.pool.getVersion('iris', '1').sessionThread).toBeNull()
  })

  it('honours version.yaml session_thread either way', async () => {
    expect(await versionOf('cnn-inline')).toMatchObject({ state: 'ready', session_runs_on: 'request thread' })
    expect(await versionOf('iris-threaded')).toMatchObject({ state: 'ready', session_runs_on: 'session thread' })
    const [threaded, inline] = [await inferIris('iris-threaded'), await inferIris('iris')]
    expect(threaded.status).toBe(200)
    expect(threaded.body.outputs).toEqual(inline.body.outputs)
  })
})

describe('runs on a session thread', () => {
  it('answers concurrent requests, with and without batching, each equal to its image run alone', async () => {
    const ks = Array.from({ length: 16 }, (_, k) => k)
    const [plain, batched] = await Promise.all([Promise.all(ks.map((k) => infer('cnn', k))), Promise.all(ks.map((k) => infer('cnn-batched', k)))])
    for (const k of ks) {
      for (const res of [plain[k], batched[k]]) {
        expect(res.status).toBe(200)
        expect(res.body.outputs[0].shape).toEqual([1, CNN_CLASSES])
        expectClose(res.body.outputs[0].data, await alone(k))
      }
    }
    const runtime = (await versionOf('cnn-batched')).runtime
    expect(runtime.requests).toBe(16)
    expect(runtime.runs).toBeLessThan(16) // batches of up to 4 went to the thread as one run
  })

  it('releases the thread when the model is unloaded (Triton unload: drain, then release)', async () => {
    const thread = threadOf('cnn')
    await gw!.gateway.pool.unloadModel('cnn')
    await thread.exited // the test times out if the thread stays
    expect((await versionOf('cnn')).state).toBe('unloaded')
    expect(gw!.gateway.pool.getVersion('cnn', '1').sessionThread).toBeNull()
  })

  it('releases every thread when the gateway closes', async () => {
    const threads = [threadOf('cnn-batched'), threadOf('iris-threaded')]
    await gw!.close()
    gw = null
    await Promise.all(threads.map((t) => t.exited))
  })
})
