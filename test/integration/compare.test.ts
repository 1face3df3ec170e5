/**
 * Issue #5, the comparison: aggregates computed in SQL on both real stores, turned into
 * metrics that must equal the same metrics computed record by record in JavaScript; and
 * GET /v1/models/{model}/compare on a gateway after real traffic and ground truth.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildComparison } from '../../src/compare/compare.js'
import type { VersionReport } from '../../src/compare/compare.js'
import { compareAggregates } from '../../src/compare/compare-sql.js'
import type { StoredInference } from '../../src/store/records.js'
import { newInferenceId } from '../../src/inference-id.js'
import type { Store } from '../../src/store/store.js'
import { SeededRandom } from '../../src/sample-data/random.js'
import { creditRecords, get, inParallel, makeRepository, post, startGateway } from './helpers.js'
import { STORES } from './stores.js'
import { addGroundTruth } from '../../src/inference-log/ground-truth.js'

const CASES = 3_000
const T0 = Date.parse('2026-11-01T00:00:00Z')

interface Case { id: string; truth: number | null; scores: Record<string, number>; failed: Record<string, boolean>; latency: Record<string, number> }

function makeCases(): Case[] {
  const rnd = new SeededRandom(42)
  return Array.from({ length: CASES }, (_, i) => {
    const truth = rnd.next() < 0.3 ? 1 : 0
    // v2 separates the classes better than v1; scores rounded to the store's bins so that binned AUC is exact
    const score = (shift: number) => Math.round(Math.min(0.999, Math.max(0, (truth ? shift : 0) + rnd.next() * (1 - shift))) * 1000) / 1000 + 0.0005
    return {
      id: `case-${i}`,
      truth: i % 4 === 3 ? null : truth, // a quarter has no ground truth yet
      scores: { v1: score(0.2), v2: score(0.45) },
      failed: { v1: i % 97 === 0, v2: false },
      latency: { v1: 1 + rnd.next() * 4, v2: 2 + rnd.next() * 8 },
    }
  })
}

function records(cases: Case[]): StoredInference[] {
  const rows: StoredInference[] = []
  for (const [i, c] of cases.entries()) {
    for (const [version, role] of [['v1', 'primary'], ['v2', 'challenger']] as const) {
      const failed = c.failed[version]
      const score = c.scores[version]
      rows.push({
        record_id: newInferenceId(), inference_id: c.id, ts: T0 + i * 1000, server_ts: T0 + i * 1000, model: 'm', version, route: 'm', reason: 'champion', role,
        sticky_hash: null, inputs: '{}', outputs: failed ? null : JSON.stringify({ label: score >= 0.5 ? 1 : 0, probability: score }),
        latency_ms: c.latency[version], status: failed ? 500 : 200, error_code: failed ? 'INFERENCE_FAILED' : null, revision: 1, attributes: null,
        predicted_label: failed ? null : String(score >= 0.5 ? 1 : 0), score: failed ? null : score,
      })
    }
  }
  return rows
}

/** The metrics of one version, record by record. */
function expected(cases: Case[], version: 'v1' | 'v2') {
  const ok = cases.filter((c) => !c.failed[version])
  const judged = ok.filter((c) => c.truth !== null)
  const predicted = (c: Case) => (c.scores[version] >= 0.5 ? 1 : 0)
  const pos = judged.filter((c) => c.truth === 1).map((c) => c.scores[version])
  const neg = judged.filter((c) => c.truth === 0).map((c) => c.scores[version])
  let wins = 0
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0
  const tp = judged.filter((c) => predicted(c) === 1 && c.truth === 1).length
  const loss = judged.map((c) => (c.truth === 1 ? -Math.log(c.scores[version]) : -Math.log(1 - c.scores[version])))
  const latencies = ok.map((c) => c.latency[version]).sort((a, b) => a - b)
  return {
    requests: cases.length,
    errors: cases.length - ok.length,
    accuracy: judged.filter((c) => predicted(c) === c.truth).length / judged.length,
    precision: tp / judged.filter((c) => predicted(c) === 1).length,
    recall: tp / pos.length,
    auc: wins / (pos.length * neg.length),
    logLoss: loss.reduce((a, b) => a + b, 0) / loss.length,
    meanScore: ok.reduce((a, c) => a + c.scores[version], 0) / ok.length,
    positiveShare: ok.filter((c) => predicted(c) === 1).length / ok.length,
    p99: latencies[Math.ceil(0.99 * latencies.length) - 1],
    agreed: cases.filter((c) => !c.failed.v1 && !c.failed.v2 && predicted(c) === (c.scores.v1 >= 0.5 ? 1 : 0)).length,
    compared: cases.filter((c) => !c.failed.v1 && !c.failed.v2).length,
  }
}

const stores = STORES

describe.each(Object.keys(stores))('comparison computed in %s', (kind) => {
  const cases = makeCases()
  let store: Store
  let cleanup: () => Promise<void>
  let report: ReturnType<typeof buildComparison>
  const entry = (version: string, role: string) => report.versions.find((v) => v.version === version && v.role === role) as VersionReport

  beforeAll(async () => {
    ;({ store, cleanup } = await stores[kind]())
    await store.migrate()
    await store.insert(records(cases))
    await store.run(addGroundTruth('m', cases.filter((c) => c.truth !== null).map((c) => ({ inference_id: c.id, label: String(c.truth), value: null, ts: T0 }))))
    const raw = await store.run(compareAggregates({ model: 'm' }), 'read')
    report = buildComparison(raw, { task: 'binary-classification', weights: new Map([['v1', 100]]), pair: ['v2', 'v1'], metric: 'auc' })
  })
  afterAll(() => cleanup())

  it.each(['v1', 'v2'] as const)('gives %s the metrics a record-by-record computation gives', (version) => {
    const e = expected(cases, version)
    const r = entry(version, version === 'v1' ? 'primary' : 'challenger')
    expect(r.requests).toBe(e.requests)
    expect(r.errors).toBe(e.errors)
    expect(r.ground_truth!.count).toBe(cases.filter((c) => c.truth !== null && !c.failed[version]).length)
    expect(r.ground_truth!.accuracy!.value).toBeCloseTo(e.accuracy, 10)
    expect(r.ground_truth!.precision!).toBeCloseTo(e.precision, 10)
    expect(r.ground_truth!.recall!).toBeCloseTo(e.recall, 10)
    expect(r.ground_truth!.auc!.value).toBeCloseTo(e.auc, 10)
    expect(r.ground_truth!.log_loss!.value).toBeCloseTo(e.logLoss, 8)
    expect(r.predictions.mean_score!).toBeCloseTo(e.meanScore, 8)
    expect(r.predictions.class_shares['1']).toBeCloseTo(e.positiveShare, 10)
    expect(r.predictions.score_histogram.reduce((a, b) => a + b, 0)).toBe(e.requests - e.errors)
    expect(r.latency_ms.p99!).toBeGreaterThanOrEqual(e.p99)
    expect(r.latency_ms.p99!).toBeLessThanOrEqual(e.p99 * 1.05 * 1.0001)
    const [lo, hi] = r.ground_truth!.accuracy!.ci95!
    expect(lo).toBeLessThan(e.accuracy)
    expect(hi).toBeGreaterThan(e.accuracy)
  })

  it('shows traffic beside the configured weight, and agreement on the same ids', () => {
    expect(entry('v1', 'primary')).toMatchObject({ traffic_share: 1, configured_weight: 100 })
    expect(entry('v2', 'challenger')).toMatchObject({ traffic_share: null, configured_weight: null })
    const e = expected(cases, 'v2')
    expect(entry('v2', 'challenger').agreement_with_primary).toMatchObject({ compared: e.compared, agreed: e.agreed })
  })

  it('finds the better AUC of v2 significant', () => {
    expect(report.significance).toMatchObject({ metric: 'auc', a: 'v2:challenger', b: 'v1:primary', significant: true })
    expect(report.significance!.difference!).toBeCloseTo(expected(cases, 'v2').auc - expected(cases, 'v1').auc, 10)
    expect(report.significance!.p_value!).toBeLessThan(0.001)
  })
})

describe('GET /v1/models/{model}/compare', () => {
  it('compares the champion and its challenger on real traffic and ground truth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-compare-gw-'))
    const repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
    writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  credit-risk:\n    champion: v1\n    challengers: { v2: 100 }\n')
    const gw = await startGateway({ modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill') })
    try {
      const rows = creditRecords(200, 17)
      const answers = await inParallel(200, 10, (i) => post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [rows[i]] }, { 'x-inference-id': `c-${i}` }))
      expect(answers.every((a) => a.status === 200)).toBe(true)
      await new Promise((r) => setTimeout(r, 500)) // challengers land after the answers
      const truth = answers.map((a, i) => ({ inference_id: `c-${i}`, label: (i * 7) % 3 === 0 ? 1 : 0 }))
      expect((await post(`${gw.url}/v1/models/credit-risk/ground-truth`, truth)).body.records).toBe(400)
      const res = await get(`${gw.url}/v1/models/credit-risk/compare?a=v1&b=v2`)
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ model: 'credit-risk', task: 'binary-classification', revision: 1 })
      const v1 = res.body.versions.find((v: VersionReport) => v.version === 'v1')
      const v2 = res.body.versions.find((v: VersionReport) => v.version === 'v2')
      expect(v1).toMatchObject({ role: 'primary', requests: 200, traffic_share: 1, configured_weight: 100 })
      expect(v2).toMatchObject({ role: 'challenger', requests: 200 })
      expect(v2.ground_truth.count).toBe(200)
      expect(v2.agreement_with_primary.compared).toBe(200)
      expect(res.body.significance).toMatchObject({ metric: 'auc', a: 'v1:primary', b: 'v2:challenger' })
      expect(typeof res.body.significance.p_value).toBe('number')
      const windowed = await get(`${gw.url}/v1/models/credit-risk/compare?until=2020-01-01`)
      expect(windowed.body.versions).toEqual([])
      const bad = await get(`${gw.url}/v1/models/credit-risk/compare?a=v1`)
      expect(bad.status).toBe(400)
      expect(bad.body.code).toBe('QUERY_INVALID')
    } finally {
      await gw.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.each(Object.keys(stores))('regression and multiclass comparisons in %s', (kind) => {
  let store: Store
  let cleanup: () => Promise<void>
  const rnd = new SeededRandom(5)
  const row = (model: string, id: string, over: Partial<StoredInference>): StoredInference => ({
    record_id: newInferenceId(), inference_id: id, ts: T0, server_ts: T0, model, version: 'v1', route: model, reason: 'split', role: 'primary',
    sticky_hash: null, inputs: '{}', outputs: '{}', latency_ms: 1, status: 200, error_code: null, revision: 1, attributes: null,
    predicted_label: null, score: null, ...over,
  })

  beforeAll(async () => {
    ;({ store, cleanup } = await stores[kind]())
    await store.migrate()
  })
  afterAll(() => cleanup())

  it('gives a regressor MAE and RMSE on values posted as ground truth', async () => {
    const cases = Array.from({ length: 500 }, (_, i) => ({ id: `r-${i}`, predicted: rnd.next() * 100, truth: rnd.next() * 100 }))
    await store.insert(cases.map((c) => row('price', c.id, { score: c.predicted })))
    await store.run(addGroundTruth('price', cases.map((c) => ({ inference_id: c.id, label: null, value: c.truth, ts: T0 }))))
    const report = buildComparison(await store.run(compareAggregates({ model: 'price' }), 'read'), { task: null, weights: new Map(), pair: null, metric: null })
    expect(report.task).toBe('regression')
    const gt = report.versions[0].ground_truth!
    const mae = cases.reduce((a, c) => a + Math.abs(c.predicted - c.truth), 0) / cases.length
    const rmse = Math.sqrt(cases.reduce((a, c) => a + (c.predicted - c.truth) ** 2, 0) / cases.length)
    expect(gt.mae!.value).toBeCloseTo(mae, 8)
    expect(gt.rmse!).toBeCloseTo(rmse, 8)
    expect(gt.mae!.ci95![0]).toBeLessThan(mae)
    expect(gt.accuracy).toBeNull()
  })

  it('gives a multiclass classifier accuracy and macro precision and recall', async () => {
    const classes = ['setosa', 'versicolor', 'virginica']
    const cases = Array.from({ length: 600 }, (_, i) => {
      const truth = classes[i % 3]
      const predicted = rnd.next() < 0.8 ? truth : classes[(i + 1) % 3]
      return { id: `m-${i}`, truth, predicted, p: 0.5 + rnd.next() / 2 }
    })
    await store.insert(cases.map((c) => row('flowers', c.id, { predicted_label: c.predicted, score: c.p })))
    await store.run(addGroundTruth('flowers', cases.map((c) => ({ inference_id: c.id, label: c.truth, value: null, ts: T0 }))))
    const report = buildComparison(await store.run(compareAggregates({ model: 'flowers' }), 'read'), { task: null, weights: new Map(), pair: null, metric: null })
    expect(report.task).toBe('multiclass-classification')
    const gt = report.versions[0].ground_truth!
    const per = classes.map((k) => {
      const tp = cases.filter((c) => c.predicted === k && c.truth === k).length
      return { precision: tp / cases.filter((c) => c.predicted === k).length, recall: tp / cases.filter((c) => c.truth === k).length }
    })
    expect(gt.accuracy!.value).toBeCloseTo(cases.filter((c) => c.predicted === c.truth).length / cases.length, 12)
    expect(gt.precision!).toBeCloseTo(per.reduce((a, p) => a + p.precision, 0) / 3, 12)
    expect(gt.recall!).toBeCloseTo(per.reduce((a, p) => a + p.recall, 0) / 3, 12)
    expect(gt.auc).toBeNull()
    expect(report.versions[0].predictions.class_shares.setosa).toBeCloseTo(cases.filter((c) => c.predicted === 'setosa').length / 600, 12)
  })
})
