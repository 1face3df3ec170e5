/**
 * Issue #2: the committed sample models are reproducible byte for byte from
 * `npm run models:build`, genuinely different, and plausibly good on held-out data.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ort from 'onnxruntime-node'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREDIT_FEATURES, generateCreditRows } from '../src/sample-data/credit-default.js'
import { buildModels } from './build-models.js'
import type { BuiltVersion } from './build-models.js'

const committed = new URL('../models', import.meta.url).pathname
let out: string
let built: BuiltVersion[]

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'switchyard-build-'))
  built = await buildModels(out)
}, 120_000)
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe('npm run models:build', () => {
  it('rebuilds every committed model.onnx, version.yaml and reference.json byte for byte', () => {
    expect(built.map((b) => `${b.model}/${b.version}`)).toEqual(['credit-risk/v1', 'credit-risk/v2', 'credit-risk/v3', 'iris/v1'])
    for (const b of built) {
      for (const file of ['model.onnx', 'version.yaml', 'reference.json']) {
        const fresh = readFileSync(join(out, b.model, b.version, file))
        const kept = readFileSync(join(committed, b.model, b.version, file))
        expect(fresh.equals(kept), `${b.model}/${b.version}/${file} differs from a fresh build; run npm run models:build`).toBe(true)
      }
    }
  })

  it("writes each file's sha256 into its version.yaml", async () => {
    const { createHash } = await import('node:crypto')
    for (const b of built) {
      const meta = parse(readFileSync(join(out, b.model, b.version, 'version.yaml'), 'utf8')) as { sha256: string }
      expect(meta.sha256).toBe(createHash('sha256').update(readFileSync(b.onnxPath)).digest('hex'))
    }
  })

  it('trains credit-risk versions that are plausibly good on held-out rows, and iris that is accurate', () => {
    for (const b of built.filter((b) => b.model === 'credit-risk')) expect(b.metrics.auc).toBeGreaterThan(0.7)
    expect(built.find((b) => b.model === 'iris')!.metrics.accuracy).toBeGreaterThan(0.9)
  })

  it('trains genuinely different versions: their probabilities on the same rows differ', async () => {
    const rows = generateCreditRows(200, 99)
    const x = Float32Array.from(rows.flatMap((r) => CREDIT_FEATURES.map((f) => r[f])))
    const probabilities: Float32Array[] = []
    for (const b of built.filter((b) => b.model === 'credit-risk')) {
      const s = await ort.InferenceSession.create(b.onnxPath)
      probabilities.push((await s.run({ features: new ort.Tensor('float32', x, [rows.length, CREDIT_FEATURES.length]) })).probability.data as Float32Array)
      await s.release()
    }
    const meanAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length
    expect(meanAbsDiff(probabilities[0], probabilities[1])).toBeGreaterThan(0.005)
    expect(meanAbsDiff(probabilities[0], probabilities[2])).toBeGreaterThan(0.005)
    expect(meanAbsDiff(probabilities[1], probabilities[2])).toBeGreaterThan(0.005)
  })
})
