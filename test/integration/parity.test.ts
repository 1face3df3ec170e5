/**
 * Issue #2: what the gateway serves equals a direct onnxruntime run of the same file, with
 * and without coalescing concurrent requests into one run.
 */
import { join } from 'node:path'
import ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREDIT_FEATURES, generateCreditRows } from '../../src/sample-data/credit-default.js'
import { post, REPO_MODELS, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const ROWS = 48
const records = generateCreditRows(ROWS, 2024).map((r) => Object.fromEntries(CREDIT_FEATURES.map((f) => [f, (r as Record<string, number>)[f]])))

async function direct(version: string): Promise<{ label: number[]; probability: number[] }> {
  const session = await ort.InferenceSession.create(join(REPO_MODELS, 'credit-risk', version, 'model.onnx'))
  const data = Float32Array.from(records.flatMap((r) => CREDIT_FEATURES.map((f) => r[f])))
  const out = await session.run({ features: new ort.Tensor('float32', data, [ROWS, CREDIT_FEATURES.length]) })
  await session.release()
  return { label: Array.from(out.label.data as BigInt64Array, Number), probability: Array.from(out.probability.data as Float32Array) }
}

describe.each([{ coalesce: true }, { coalesce: false }])('served = direct onnxruntime (coalesce: $coalesce)', ({ coalesce }) => {
  let gw: Running
  beforeAll(async () => {
    gw = await startGateway({ coalesce })
  })
  afterAll(async () => gw.close())

  it.each(['v1', 'v2', 'v3'])('credit-risk %s: one batched request', async (version) => {
    const expected = await direct(version)
    const res = await post(`${gw.url}/v1/models/credit-risk/versions/${version}/predict`, { instances: records })
    expect(res.status).toBe(200)
    expect(res.body.predictions.map((p: { label: number }) => p.label)).toEqual(expected.label)
    expect(res.body.predictions.map((p: { probability: number }) => p.probability)).toEqual(expected.probability)
  })

  it.each(['v1', 'v3'])('credit-risk %s: many concurrent one-row requests, native and V2', async (version) => {
    const expected = await direct(version)
    const runner = gw.gateway.pool.getReadyVersion('credit-risk', version).runner!
    const before = { ...runner.stats }
    const native = await Promise.all(records.map((r) => post(`${gw.url}/v1/models/credit-risk/versions/${version}/predict`, { instances: [r] })))
    const v2 = await Promise.all(records.map((r) => post(`${gw.url}/v2/models/credit-risk/versions/${version}/infer`, {
      inputs: [{ name: 'features', shape: [1, CREDIT_FEATURES.length], datatype: 'FP32', data: CREDIT_FEATURES.map((f) => r[f]) }],
    })))
    expect(native.map((r) => r.body.predictions[0].probability)).toEqual(expected.probability)
    expect(native.map((r) => r.body.predictions[0].label)).toEqual(expected.label)
    const v2prob = v2.map((r) => r.body.outputs.find((o: { name: string }) => o.name === 'probability').data[0])
    expect(v2prob).toEqual(expected.probability)
    const runs = runner.stats.runs - before.runs
    const requests = runner.stats.requests - before.requests
    expect(requests).toBe(2 * ROWS)
    if (coalesce) expect(runs).toBeLessThan(requests) // requests really shared runs
    else expect(runs).toBe(requests)
  })
})
