/**
 * Issue #16, point 5: dynamic batching for heavy models, per version in version.yaml
 * (`batching: { max_batch_size, max_queue_delay_ms }`, as Triton's dynamic batcher). A run
 * starts when the batch is full or when the oldest request has waited the delay; answers
 * equal those of the image run alone. On the real CNN of the benchmark (training/cnn.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inThread, RunCoalescer } from '../../src/runtime/run-coalescer.js'
import type { BatchingPolicy } from '../../src/runtime/run-coalescer.js'
import { loadSession } from '../../src/runtime/session.js'
import type { LoadedSession } from '../../src/runtime/session.js'
import type { Feed, RunOutputs } from '../../src/runtime/tensors.js'
import { buildCnn, CNN_CLASSES, CNN_IMAGE_SHAPE, CNN_INPUT, CNN_OUTPUT } from '../../training/cnn.js'
import { get, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const PIXELS = CNN_IMAGE_SHAPE.reduce((a, b) => a * b, 1)
let dir: string
let session: LoadedSession

/** Image `k`: pixels that differ from every other image's, so that a row answered to the wrong request shows. */
function image(k: number, rows = 1): Float32Array {
  return new Float32Array(PIXELS * rows).map((_, i) => Math.sin(i * 0.01 + k) * 0.5 + 0.5)
}

function feedOf(data: Float32Array, rows = 1): Feed[] {
  return [{ name: CNN_INPUT, type: 'float32', data, dims: [rows, ...CNN_IMAGE_SHAPE] }]
}

/** What the model answers for `data` run on its own, straight from onnxruntime. */
async function alone(data: Float32Array, rows = 1): Promise<Float32Array> {
  const out = await session.session.run({ [CNN_INPUT]: new ort.Tensor('float32', data, [rows, ...CNN_IMAGE_SHAPE]) })
  return out[CNN_OUTPUT].data as Float32Array
}

function runOn(coalescer: RunCoalescer, data: Float32Array, rows = 1): Promise<RunOutputs> {
  return new Promise((resolve, reject) => coalescer.run(feedOf(data, rows), rows, (err, outputs) => (outputs === null ? reject(err) : resolve(outputs))))
}

function batcher(batching: BatchingPolicy | null): RunCoalescer {
  return new RunCoalescer(inThread(session.session), { isBatchable: session.isBatchable, coalesce: true, maxRunRows: 1_024, batching })
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-batching-'))
  writeFileSync(join(dir, 'cnn.onnx'), buildCnn())
  session = await loadSession(join(dir, 'cnn.onnx'), undefined)
})

afterAll(async () => {
  await session?.session.release()
  rmSync(dir, { recursive: true, force: true })
})

describe('the dynamic batcher (run-coalescer.ts) on the CNN', () => {
  it('forms runs of max_batch_size, the rest after the delay, each answer equal to its image run alone', async () => {
    const coalescer = batcher({ maxBatchSize: 8, maxQueueDelayMs: 20 })
    const images = Array.from({ length: 20 }, (_, k) => image(k))
    const answers = await Promise.all(images.map((data) => runOn(coalescer, data)))
    expect(coalescer.stats).toEqual({ runs: 3, requests: 20 }) // 8 + 8 at once, the last 4 after 20 ms
    for (let k = 0; k < images.length; k++) {
      expect(answers[k][CNN_OUTPUT].dims).toEqual([1, CNN_CLASSES])
      expect(Array.from(answers[k][CNN_OUTPUT].data as Float32Array)).toEqual(Array.from(await alone(images[k])))
    }
  })

  it('holds a batch that is not full for max_queue_delay_ms, not longer', async () => {
    const coalescer = batcher({ maxBatchSize: 8, maxQueueDelayMs: 150 })
    const started = performance.now()
    const waited = await Promise.all([0, 1, 2].map((k) => runOn(coalescer, image(k)).then(() => performance.now() - started)))
    expect(coalescer.stats.runs).toBe(1)
    for (const ms of waited) {
      expect(ms).toBeGreaterThanOrEqual(145) // timers may fire a little early by the clock's rounding
      expect(ms).toBeLessThan(1_000)
    }
  })

  it('runs a request larger than max_batch_size on its own, whole', async () => {
    const coalescer = batcher({ maxBatchSize: 4, maxQueueDelayMs: 5 })
    const big = image(7, 6)
    const [small, large] = await Promise.all([runOn(coalescer, image(1)), runOn(coalescer, big, 6)])
    expect(large[CNN_OUTPUT].dims).toEqual([6, CNN_CLASSES])
    expect(Array.from(large[CNN_OUTPUT].data as Float32Array)).toEqual(Array.from(await alone(big, 6)))
    expect(Array.from(small[CNN_OUTPUT].data as Float32Array)).toEqual(Array.from(await alone(image(1))))
  })
})

describe('batching from version.yaml, through the gateway', () => {
  let gw: Running
  let models: string

  beforeAll(async () => {
    models = join(dir, 'models')
    for (const [name, yaml] of [['cnn', null], ['cnn-batched', 'batching: { max_batch_size: 8, max_queue_delay_ms: 30 }\n'], ['cnn-bad', 'batching: { max_batch_size: 0, max_queue_delay_ms: 1 }\n']] as const) {
      mkdirSync(join(models, name, '1'), { recursive: true })
      writeFileSync(join(models, name, '1', 'model.onnx'), buildCnn())
      if (yaml !== null) writeFileSync(join(models, name, '1', 'version.yaml'), yaml)
    }
    gw = await startGateway({ modelsDir: models })
  })

  afterAll(async () => gw?.close())

  const infer = (model: string, k: number) =>
    post(`${gw.url}/v2/models/${model}/versions/1/infer`, { inputs: [{ name: CNN_INPUT, shape: [1, ...CNN_IMAGE_SHAPE], datatype: 'FP32', data: Array.from(image(k)) }] })

  it('answers concurrent requests in shared runs, equal to the version without batching', async () => {
    const batched = await Promise.all(Array.from({ length: 16 }, (_, k) => infer('cnn-batched', k)))
    const plain: Awaited<ReturnType<typeof infer>>[] = []
    for (let k = 0; k < 16; k++) plain.push(await infer('cnn', k)) // one at a time: each runs alone
    for (let k = 0; k < 16; k++) {
      expect(batched[k].status).toBe(200)
      expect(batched[k].body.outputs[0].data).toEqual(plain[k].body.outputs[0].data)
    }
    const catalog = (await get(`${gw.url}/v1/models/cnn-batched`)).body.versions[0]
    expect(catalog.batching).toEqual({ max_batch_size: 8, max_queue_delay_ms: 30 })
    expect(catalog.runtime.requests).toBe(16)
    expect(catalog.runtime.runs).toBeLessThan(16)
    expect((await get(`${gw.url}/v1/models/cnn`)).body.versions[0].batching).toBeNull()
  })

  it('reports a wrong batching block as the version\'s problem', async () => {
    const bad = (await get(`${gw.url}/v1/models/cnn-bad`)).body.versions[0]
    expect(bad.state).toBe('failed')
    expect(bad.reason).toMatch(/batching\.max_batch_size/)
  })
})
