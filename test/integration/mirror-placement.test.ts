/**
 * Issue #3, shadow isolation: a mirror version whose runs are cheap runs on the request
 * thread's coalescer after the answer; one whose runs are slow runs on the mirror worker, so
 * that it cannot hold up the primaries. Both are scored and counted either way.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runsInline } from '../../src/mirrors/mirrors.js'
import { GraphBuilder } from '../../training/onnx/model-writer.js'
import { creditRecords, eventually, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const WIDTH = 1280 // a 32-row run of the heavy model: about 100 million multiply-adds, a few ms
const records = creditRecords(20, 9)
let repo: string
let gw: Running

/** features [N, 22] -> 22 x WIDTH -> WIDTH x WIDTH -> WIDTH x WIDTH -> a sum a row, a Relu between (no folding): slow on purpose. */
function heavyModel(): Uint8Array {
  const g = new GraphBuilder('heavy').input('features', 'float32', ['N', 22])
  const weights = (rows: number, cols: number) => Array.from({ length: rows * cols }, (_, i) => ((i * 7919) % 1000) / 1e6)
  g.initializer('w1', 'float32', [22, WIDTH], weights(22, WIDTH))
  g.initializer('w2', 'float32', [WIDTH, WIDTH], weights(WIDTH, WIDTH))
  g.initializer('w3', 'float32', [WIDTH, WIDTH], weights(WIDTH, WIDTH))
  g.initializer('axis', 'int64', [1], [1])
  g.node('MatMul', ['features', 'w1'], ['m1']).node('Relu', ['m1'], ['h1'])
  g.node('MatMul', ['h1', 'w2'], ['m2']).node('Relu', ['m2'], ['h2'])
  g.node('MatMul', ['h2', 'w3'], ['h3'])
  g.node('ReduceSum', ['h3', 'axis'], ['label'], { keepdims: 0 })
  return g.output('label', 'float32', ['N']).encode()
}

/** features [1, 22] -> a sum: cheap, but of a fixed shape, so its requests cannot share a run. */
function fixedShapeModel(): Uint8Array {
  const g = new GraphBuilder('fixed').input('features', 'float32', [1, 22])
  g.initializer('axis', 'int64', [1], [1])
  g.node('ReduceSum', ['features', 'axis'], ['label'], { keepdims: 0 })
  return g.output('label', 'float32', [1]).encode()
}

beforeAll(async () => {
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v3: 'v3' } })
  mkdirSync(join(repo, 'credit-risk', 'heavy'))
  writeFileSync(join(repo, 'credit-risk', 'heavy', 'model.onnx'), heavyModel())
  mkdirSync(join(repo, 'credit-risk', 'fixed'))
  writeFileSync(join(repo, 'credit-risk', 'fixed', 'model.onnx'), fixedShapeModel())
  const routes = join(repo, 'routes.yaml')
  writeFileSync(routes, 'routes:\n  credit-risk:\n    split: { v1: 100 }\n    shadow: { v3: 100, heavy: 100 }\n')
  gw = await startGateway({ modelsDir: repo, routesPath: routes, watchRoutes: false })
})

afterAll(async () => {
  await gw.close()
  rmSync(repo, { recursive: true, force: true })
})

describe('where mirrors run', () => {
  it('a version whose batch run is cheap at load runs on the request thread, a slow one on the mirror worker', () => {
    const v3 = gw.gateway.pool.getReadyVersion('credit-risk', 'v3')
    const heavy = gw.gateway.pool.getReadyVersion('credit-risk', 'heavy')
    expect(v3.session!.batchRunMs).toBeLessThan(1)
    expect(heavy.session!.batchRunMs, 'the heavy model is not slow enough on this machine').toBeGreaterThan(1)
    expect(runsInline(v3)).toBe(true)
    expect(runsInline(heavy)).toBe(false)
  })

  it('scores every request with both, and the primaries all answer', async () => {
    const v3Runs = gw.gateway.pool.getReadyVersion('credit-risk', 'v3').runner!.stats.requests
    for (const r of records) expect((await post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [r] })).status).toBe(200)
    const mirrors = gw.gateway.mirrors
    await eventually(() => {
      expect(mirrors.statFor('credit-risk', 'v3', 'shadow')).toMatchObject({ requests: records.length, errors: 0, dropped: 0 })
      expect(mirrors.statFor('credit-risk', 'v3', 'shadow').comparedRows).toBe(records.length)
      expect(mirrors.statFor('credit-risk', 'heavy', 'shadow')).toMatchObject({ requests: records.length, errors: 0, dropped: 0 })
      expect(mirrors.statFor('credit-risk', 'heavy', 'shadow').comparedRows).toBe(records.length)
      return Promise.resolve()
    }, 20_000)
    // the cheap shadow ran on the request thread's own coalescer of v3; the heavy one did not
    expect(gw.gateway.pool.getReadyVersion('credit-risk', 'v3').runner!.stats.requests - v3Runs).toBe(records.length)
    expect(gw.gateway.pool.getReadyVersion('credit-risk', 'heavy').runner!.stats.requests).toBe(0)
  })

  it('a version of a fixed shape runs on the mirror worker however cheap its run: its requests would each run alone', () => {
    const fixed = gw.gateway.pool.getReadyVersion('credit-risk', 'fixed')
    expect(fixed.session!.isBatchable).toBe(false)
    expect(fixed.session!.batchRunMs).toBeLessThan(1)
    expect(runsInline(fixed)).toBe(false)
  })
})
