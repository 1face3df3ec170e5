/**
 * Mirrors of one turn cross to the worker stacked into one buffer an input and are split
 * again there: each job must still get exactly its own rows' outputs, the primary's feeds must
 * stay usable on the request thread, and a job the target cannot run must fail alone.
 */
import { join } from 'node:path'
import ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MirrorTarget } from '../../src/mirrors/mirror-protocol.js'
import { createLogger } from '../../src/log.js'
import { MirrorRunner } from '../../src/mirrors/mirror-runner.js'
import { loadSession } from '../../src/runtime/session.js'
import type { LoadedSession } from '../../src/runtime/session.js'
import type { Feed, RunOutputs } from '../../src/runtime/tensors.js'

const onnxPath = join(import.meta.dirname, '../../models/credit-risk/v3/model.onnx')
const target: MirrorTarget = { kind: 'onnx', key: 'credit-risk/v3/test', onnxPath }
let direct: LoadedSession
let runner: MirrorRunner

beforeAll(async () => {
  direct = await loadSession(onnxPath, undefined)
  runner = new MirrorRunner(100, createLogger('silent'))
})

afterAll(async () => {
  await runner.close()
  await direct.session.release()
})

function feedsOf(rows: number, seed: number): Feed[] {
  const input = direct.inputs[0]
  const width = input.shape[1]
  const data = Float32Array.from({ length: rows * width }, (_, i) => ((i * 7919 + seed * 104729) % 1000) / 10)
  return [{ name: input.name, type: 'float32', data, dims: [rows, width] }]
}

/** A mirror run as a promise of its outputs. */
function mirrorRun(feeds: Feed[], rows: number): Promise<{ outputs: RunOutputs; ms: number }> {
  return new Promise((resolve, reject) => {
    const accepted = runner.run(target, feeds, rows, (err, outputs, ms) => (outputs === null ? reject(err) : resolve({ outputs, ms })))
    if (!accepted) reject(new Error('dropped'))
  })
}

async function runDirectly(feeds: Feed[]): Promise<number[]> {
  const out = await direct.session.run({ [feeds[0].name]: new ort.Tensor('float32', feeds[0].data as Float32Array, feeds[0].dims as number[]) })
  return Array.from(out[direct.outputs[0].name].data as ArrayLike<number | bigint>, Number)
}

describe('MirrorRunner', () => {
  it('gives each job of a turn its own rows of one stacked run, and leaves the callers\' feeds intact', async () => {
    const jobs = [feedsOf(1, 1), feedsOf(3, 2), feedsOf(2, 3), feedsOf(1, 4)]
    const runs = jobs.map((feeds) => mirrorRun(feeds, feeds[0].dims[0])) // one turn: one message
    const results = await Promise.all(runs)
    for (let i = 0; i < jobs.length; i++) {
      const got = Array.from(results[i].outputs[direct.outputs[0].name].data as ArrayLike<number | bigint>, Number)
      const want = await runDirectly(jobs[i])
      expect(got.length).toBe(want.length)
      got.forEach((v, k) => expect(v).toBeCloseTo(want[k], 5))
    }
    // stacking copied the feeds before transferring the copy: the primary's own buffers are not detached
    expect(jobs.map((f) => f[0].data.length)).toEqual([1, 3, 2, 1].map((r) => r * direct.inputs[0].shape[1]))
  })

  it('fails only the job whose inputs the target does not have, in the same turn as good ones (never stacked under another\'s names)', async () => {
    const good = feedsOf(2, 5)
    const wrong: Feed[] = [{ ...feedsOf(2, 6)[0], name: 'not_an_input' }]
    const [ok, bad] = await Promise.allSettled([mirrorRun(good, 2), mirrorRun(wrong, 2)])
    expect(ok.status).toBe('fulfilled')
    expect(bad.status).toBe('rejected')
  })
})
