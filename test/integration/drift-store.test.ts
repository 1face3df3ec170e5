/**
 * Issue #18, drift: the bin counts computed in SQL from the log, with a profile's edges, equal
 * the same counts taken record by record in JavaScript, on both real stores; and so do PSI and
 * the tests built on them. Also: profiles are kept per version and replaced whole, a profile
 * from a file never replaces one given since, and a version without one says how to give it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildDriftReport } from '../../src/drift/drift.js'
import { driftRaw } from '../../src/drift/drift-raw.js'
import { DriftRollups } from '../../src/drift/drift-rollups.js'
import { addCounts, columnsOf, countsByMinute, getProfile, listProfiles, putProfile, putProfileIfAbsent, windowCounts } from '../../src/drift/drift-sql.js'
import type { ReferenceSpec } from '../../src/drift/drift-sql.js'
import { binOf, buildProfile, categoryOf, OTHER } from '../../src/drift/profile.js'
import type { ColumnBins, ReferenceProfile } from '../../src/drift/profile.js'
import { chiSquareTest, ksTest, psi } from '../../src/drift/statistics.js'
import { newInferenceId } from '../../src/inference-id.js'
import { CREDIT_FEATURES, driftedRow, generateCreditRows } from '../../src/sample-data/credit-default.js'
import type { CreditRow } from '../../src/sample-data/credit-default.js'
import { SeededRandom } from '../../src/sample-data/random.js'
import { MIGRATIONS, migrationSql } from '../../src/store/migrations.js'
import type { StoredInference } from '../../src/store/records.js'
import { STORE_KINDS, STORES, twoReplicasOn } from './stores.js'
import type { StoreUnderTest } from './stores.js'

const T0 = Date.parse('2026-11-01T00:00:00Z')
const HOUR = 3_600_000
const CHANNELS = ['web', 'branch', 'phone']
const FEATURES = ['limit_bal', 'age', 'education', 'pay_1', 'bill_amt1'] as const

type Inputs = Record<string, unknown> | unknown[] | null

/** A credit row as a record's inputs, with a categorical `channel` (web, branch, phone; and kiosk, unknown to the reference, in drifted rows). */
function inputsOf(row: CreditRow, rnd: SeededRandom, isDrifted: boolean): Inputs {
  const channel = isDrifted && rnd.next() < 0.1 ? 'kiosk' : CHANNELS[Math.floor(rnd.next() * 3)]
  const inputs: Record<string, unknown> = { ...Object.fromEntries(FEATURES.map((f) => [f, row[f]])), channel }
  if (rnd.next() < 0.03) delete inputs.age // a missing value
  if (rnd.next() < 0.02) inputs.limit_bal = 'unknown' // a value of the wrong kind: not counted
  return inputs
}

const scoreOf = (row: CreditRow) => Math.min(0.99, Math.max(0.01, 0.2 + 0.08 * Math.max(0, row.pay_1) - row.limit_bal / 4_000_000 + (row.age < 30 ? 0.05 : 0)))

function referenceProfile(): ReferenceProfile {
  const rnd = new SeededRandom(11)
  const rows = generateCreditRows(3_000, 1)
  const inputs = rows.map((r) => inputsOf(r, rnd, false) as Record<string, string | number>)
  const columns = new Map([...FEATURES, 'channel'].map((f) => [f, inputs.map((i) => i[f])]))
  return buildProfile({ source: 'test rows', columns, scores: rows.map(scoreOf), records: rows.length })
}

interface Made { readonly stored: StoredInference[] }

function records(version: string, seed: number, count: number, drifted: boolean, startTs: number): Made {
  const rnd = new SeededRandom(seed)
  const stored = generateCreditRows(count, seed).map((plain, i): StoredInference => {
    const row = drifted ? driftedRow(plain) : plain
    const failed = i % 50 === 7
    // one record in 40 came as V2 tensors: no feature by name, only a score
    const inputs = i % 40 === 3 ? [{ name: 'features', shape: [1, 5], datatype: 'FP64', data: FEATURES.map((f) => row[f]) }] : inputsOf(row, rnd, drifted)
    if (i % 45 === 5 && inputs !== null && !Array.isArray(inputs)) inputs.pay_1 = true // a boolean is no number: not counted on either store
    const score = scoreOf(row)
    return {
      record_id: newInferenceId(), inference_id: `${version}-${seed}-${i}`, ts: startTs + i * 1_000, server_ts: startTs + i * 1_000, model: 'm', version,
      route: 'm', reason: null, role: 'primary', sticky_hash: null, inputs: JSON.stringify(inputs),
      outputs: failed ? null : JSON.stringify({ label: score >= 0.5 ? 1 : 0, probability: score }), latency_ms: 1, status: failed ? 500 : 200,
      error_code: failed ? 'INFERENCE_FAILED' : null, revision: 1, attributes: null, predicted_label: failed ? null : String(score >= 0.5 ? 1 : 0), score: failed ? null : score,
    }
  })
  return { stored }
}

/** A window's counts in a column's bins, record by record. */
function countsByHand(rows: readonly StoredInference[], bins: ColumnBins, isScore: boolean): { n: number; counts: number[] } {
  const counts = new Array<number>(bins.counts.length).fill(0)
  let n = 0
  for (const r of rows) {
    if (r.status !== 200) continue
    const inputs = JSON.parse(r.inputs!) as Inputs
    const value = isScore ? r.score : Array.isArray(inputs) || inputs === null ? undefined : inputs[bins.feature]
    if (bins.kind === 'numeric') {
      if (typeof value !== 'number') continue
      counts[binOf(bins.edges, value)]++
    } else {
      if (value === undefined || value === null || typeof value === 'object') continue
      const at = bins.values.indexOf(categoryOf(value as string | number | boolean))
      counts[at === -1 ? bins.values.length : at]++
    }
    n++
  }
  return { n, counts }
}

const inWindow = (rows: readonly StoredInference[], since: number, until: number) => rows.filter((r) => r.ts >= since && r.ts < until)

for (const [kind, open] of Object.entries(STORES)) {
  describe(`drift in the ${kind} store`, () => {
    let t: StoreUnderTest
    const profile = referenceProfile()
    const steady = records('v1', 21, 1_500, false, T0)
    const shifted = records('v2', 22, 1_500, true, T0)
    const later = records('v1', 23, 600, true, T0 + 2 * HOUR) // v1's records an hour after, drifted
    const window = { since: T0, until: T0 + HOUR }

    beforeAll(async () => {
      t = await open()
      await t.store.migrate()
      for (const batch of [steady, shifted, later]) await t.store.insert(batch.stored)
      await t.store.run(putProfile('m', 'v1', profile, 'tester', T0), 'write')
    }, 60_000)
    afterAll(async () => t?.cleanup())

    const raw = (version: string, reference: ReferenceSpec, w = window) => t.store.run(driftRaw({ model: 'm', version, ...w, reference }), 'read')

    it('counts each feature and the score in the profile\'s bins exactly as record by record', async () => {
      const r = await raw('v1', { kind: 'profile', version: 'v1' })
      const columns = [...profile.features, profile.score!]
      expect(r.live.records).toBe(steady.stored.filter((s) => s.status === 200).length)
      columns.forEach((bins, k) => {
        const expected = countsByHand(steady.stored, bins, k === columns.length - 1)
        expect(r.live.columns[k], bins.feature).toEqual({ feature: bins.feature, ...expected })
      })
      // the kiosk channel is unknown to the reference: counted as OTHER
      const channel = profile.features.find((f) => f.feature === 'channel')!
      expect(channel.kind === 'categorical' && channel.values).toEqual(['branch', 'phone', 'web'])
      const drifted = await raw('v2', { kind: 'profile', version: 'v1' })
      expect(drifted.live.columns[profile.features.indexOf(channel)]).toEqual({ feature: 'channel', ...countsByHand(shifted.stored, channel, false) })
      expect(drifted.live.columns[profile.features.indexOf(channel)].counts[3]).toBeGreaterThan(50)
      expect(OTHER).toBe('(other)')
    })

    it('gives PSI and the tests of the hand counts, and flags the drifted version only', async () => {
      const thresholds = { psiThreshold: 0.2, since: window.since, until: window.until, model: 'm' }
      const steadyReport = buildDriftReport(await raw('v1', { kind: 'profile', version: 'v1' }), { ...thresholds, version: 'v1', reference: { kind: 'profile', version: 'v1' } })
      const shiftedReport = buildDriftReport(await raw('v2', { kind: 'profile', version: 'v1' }), { ...thresholds, version: 'v2', reference: { kind: 'profile', version: 'v1' } })
      for (const f of profile.features) {
        const hand = countsByHand(shifted.stored, f, false)
        const got = shiftedReport.features.find((x) => x.feature === f.feature)!
        expect(got.psi).toBeCloseTo(psi(f.counts, hand.counts)!, 12)
        const test = f.kind === 'numeric' ? ksTest(f.counts, hand.counts)! : chiSquareTest(f.counts, hand.counts)!
        expect([got.statistic, got.p_value]).toEqual([test.statistic, test.p_value])
        expect(got.test).toBe(f.kind === 'numeric' ? 'ks' : 'chi_square')
      }
      // v2's applicants are younger, their limits lower, and a tenth come through a new channel
      expect(shiftedReport.features.filter((f) => f.flagged).map((f) => f.feature).sort()).toEqual(['age', 'channel', 'limit_bal'])
      expect(shiftedReport.score).toMatchObject({ feature: 'score', kind: 'numeric', test: 'ks', flagged: true })
      expect(steadyReport.features.filter((f) => f.flagged)).toEqual([])
      expect(steadyReport.score!.flagged).toBe(false)
      // flagged first, then by PSI
      const order = shiftedReport.features.map((f) => [Number(f.flagged), f.psi!])
      expect(order).toEqual([...order].sort((a, b) => b[0] - a[0] || b[1] - a[1]))
    })

    it('measures against another version\'s records, or a window, in the profile\'s bins', async () => {
      const againstV1 = await raw('v2', { kind: 'version', version: 'v1' })
      const columns = [...profile.features, profile.score!]
      columns.forEach((bins, k) => {
        expect(againstV1.reference.columns[k]).toEqual({ feature: bins.feature, ...countsByHand(steady.stored, bins, k === columns.length - 1) })
        expect(againstV1.live.columns[k]).toEqual({ feature: bins.feature, ...countsByHand(shifted.stored, bins, k === columns.length - 1) })
      })
      const later2 = { since: T0 + 2 * HOUR, until: T0 + 3 * HOUR }
      const againstWindow = await raw('v1', { kind: 'window', ...window }, later2)
      columns.forEach((bins, k) => {
        expect(againstWindow.reference.columns[k].counts).toEqual(countsByHand(inWindow(steady.stored, window.since, window.until), bins, k === columns.length - 1).counts)
        expect(againstWindow.live.columns[k].counts).toEqual(countsByHand(later.stored, bins, k === columns.length - 1).counts)
      })
      // v2 has no profile of its own: the bins are v1's
      expect(againstV1.binsFrom.version).toBe('v1')
    })

    it('counts a minute at a time what the window counts at once (the rollups\' rebuild adds the minutes up)', async () => {
      const w = { model: 'm', version: 'v1', since: T0 + 90_000, until: T0 + 1_200_000 } // not on minute boundaries
      const columns = columnsOf(profile)
      const byMinute = await t.store.run(countsByMinute(w, columns), 'read')
      expect(byMinute.map((m) => m.minute)).toEqual(Array.from({ length: 19 }, (_, i) => T0 + 60_000 + i * 60_000))
      expect(byMinute.every((m) => m.counts.records > 0)).toBe(true)
      expect(addCounts(byMinute.map((m) => m.counts), columns)).toEqual(await t.store.run(windowCounts(w, columns), 'read'))
    })

    it('says how to give a reference when there is none', async () => {
      await expect(raw('v2', { kind: 'profile', version: 'v2' })).rejects.toMatchObject({ code: 'DRIFT_NO_REFERENCE', status: 404 })
      await expect(raw('v9', { kind: 'window', since: 0, until: 1 })).rejects.toMatchObject({ code: 'DRIFT_NO_REFERENCE' })
      await expect(raw('v2', { kind: 'profile', version: 'v2' })).rejects.toThrow(/switchyard reference --model m --version v2/)
    })

    it('keeps one profile a version: replaced whole when given, never by a file\'s', async () => {
      const other: ReferenceProfile = { ...profile, source: 'another file', records: 7 }
      expect(await t.store.run(putProfileIfAbsent('m', 'v1', other, 'file', T0 + 1), 'write')).toBe(false)
      expect((await t.store.run(getProfile('m', 'v1'), 'read'))!.profile.source).toBe('test rows')
      expect(await t.store.run(putProfileIfAbsent('m', 'v3', other, 'file', T0 + 1), 'write')).toBe(true)
      await t.store.run(putProfile('m', 'v3', profile, 'tester', T0 + 2), 'write')
      expect(await t.store.run(getProfile('m', 'v3'), 'read')).toEqual({ model: 'm', version: 'v3', profile, updated_at: T0 + 2, updated_by: 'tester' })
      expect(await t.store.run(listProfiles(), 'read')).toEqual([{ model: 'm', version: 'v1', updated_at: T0 }, { model: 'm', version: 'v3', updated_at: T0 + 2 }])
    })
  })
}

/**
 * Issue #18.4: drift from the per-minute rollups the writer keeps equals the full computation
 * over every record, on both stores: after the rebuild that counts the records stored before
 * a profile, with records written while it runs, late ones (a minute long past), a batch sent
 * twice, and after the profile is replaced and its rollups rebuilt.
 */
for (const [kind, open] of Object.entries(STORES)) {
  describe(`drift from rollups in the ${kind} store`, () => {
    let t: StoreUnderTest
    let rollups: DriftRollups
    const profile = referenceProfile()
    const windows = [
      { since: T0, until: T0 + 3 * HOUR }, // whole minutes
      { since: T0 + 90_500, until: T0 + HOUR + 1_234 }, // partial first and last minutes
      { since: T0 + 10_000, until: T0 + 50_000 }, // within one minute
    ]

    beforeAll(async () => {
      t = await open()
      await t.store.migrate()
      rollups = new DriftRollups({ rebuildRecords: 400 }) // many chunks
      await rollups.attach(t.store)
    }, 60_000)
    afterAll(async () => t?.cleanup())

    const both = async (version: string, reference: ReferenceSpec, w: { since: number; until: number }) => {
      const request = { model: 'm', version, ...w, reference }
      const [fast, full] = [await t.store.run(driftRaw(request), 'read'), await t.store.run(driftRaw({ ...request, isFull: true }), 'read')]
      expect(full.source).toBe('records')
      return { fast, full }
    }
    const expectEqual = async (version: string, reference: ReferenceSpec, source: 'rollups' | 'records') => {
      for (const w of windows) {
        const { fast, full } = await both(version, reference, w)
        expect(fast.source, JSON.stringify(w)).toBe(source)
        expect(fast.live, JSON.stringify(w)).toEqual(full.live)
        expect(fast.reference).toEqual(full.reference)
      }
    }

    it('answers from the rollups, equal to every record counted, once the rebuild is done', async () => {
      await t.store.insert(records('v1', 31, 1_500, false, T0).stored)
      await t.store.run(putProfile('m', 'v1', profile, 'tester', T0), 'write')
      await expectEqual('v1', { kind: 'profile', version: 'v1' }, 'records') // the writer does not know the profile yet
      await rollups.refresh()
      // records written while the rebuild goes on, some ahead of it and some behind
      await t.store.insert(records('v1', 32, 800, true, T0 + 2 * HOUR).stored)
      await t.store.insert(records('v1', 33, 300, false, T0 + 30_000).stored)
      await rollups.rebuilt()
      const { fast } = await both('v1', { kind: 'profile', version: 'v1' }, windows[0])
      expect(fast.live.records).toBeGreaterThan(2_400)
      await expectEqual('v1', { kind: 'profile', version: 'v1' }, 'rollups')
    })

    it('counts records written after, late ones and a batch sent twice, once each', async () => {
      const late = records('v1', 34, 400, true, T0 + 5 * 60_000)
      await t.store.insert(late.stored)
      await t.store.insert(late.stored) // sent again: stored once, counted once
      await t.store.insert(records('v1', 35, 200, false, T0 + HOUR - 20_000).stored)
      await expectEqual('v1', { kind: 'profile', version: 'v1' }, 'rollups')
      // against a window of the same version, in its own bins: both sides from rollups
      await expectEqual('v1', { kind: 'window', since: T0 + 2 * HOUR, until: T0 + 3 * HOUR }, 'rollups')
      // another version's records in v1's bins: counted from the records
      await t.store.insert(records('v2', 36, 300, true, T0).stored)
      await expectEqual('v1', { kind: 'version', version: 'v2' }, 'records')
    })

    it('rebuilds in the new bins when the profile is replaced, counting from the records until then', async () => {
      const rnd = new SeededRandom(5)
      const rows = generateCreditRows(2_000, 9).map(driftedRow)
      const inputs = rows.map((r) => inputsOf(r, rnd, true) as Record<string, string | number>)
      const replaced = buildProfile({ source: 'drifted rows', columns: new Map([...FEATURES, 'channel'].map((f) => [f, inputs.map((i) => i[f])])), scores: rows.map(scoreOf), records: rows.length })
      expect(replaced.features[0]).not.toEqual(profile.features[0])
      await t.store.run(putProfile('m', 'v1', replaced, 'tester', T0 + 1), 'write')
      await expectEqual('v1', { kind: 'profile', version: 'v1' }, 'records')
      await rollups.refresh()
      await t.store.insert(records('v1', 37, 300, true, T0 + 2 * HOUR + 1_000).stored)
      await rollups.rebuilt()
      await expectEqual('v1', { kind: 'profile', version: 'v1' }, 'rollups')
      const { fast } = await both('v1', { kind: 'profile', version: 'v1' }, windows[0])
      expect(fast.binsFrom.profile.source).toBe('drifted rows')
    })

    // SQLite alone: PostgreSQL never counted a boolean as a number, and its migration 10 does nothing
    if (kind === 'sqlite') it('rebuilds, after migration 10, the rollups an older gateway kept by the old rule', async () => {
      // the old rule counted a true in a numeric feature as 1: here, a few more counts in the rows
      await t.tamper('UPDATE rollup_drift SET b0 = b0 + 3')
      const restarted = new DriftRollups()
      await restarted.attach(t.store)
      await restarted.rebuilt()
      await expect(expectEqual('v1', { kind: 'profile', version: 'v1' }, 'rollups')).rejects.toThrow() // not without the migration
      await t.tamper(migrationSql(MIGRATIONS.find((m) => m.version === 10)!, 'sqlite'))
      await restarted.refresh() // as the writer's next start does
      await restarted.rebuilt()
      await expectEqual('v1', { kind: 'profile', version: 'v1' }, 'rollups')
    })

    it('goes on counting the other versions when a stored profile cannot be read', async () => {
      await t.tamper(`INSERT INTO reference_profiles (model, version, profile, updated_at, updated_by) VALUES ('m', 'v8', '{"format":99}', 1, 'an older gateway')`)
      await rollups.refresh()
      await t.store.insert(records('v1', 38, 200, false, T0 + 40 * 60_000).stored)
      await expectEqual('v1', { kind: 'profile', version: 'v1' }, 'rollups')
    })
  })
}

/**
 * Two writers on one store, as two replicas (or two workers) have, each with its own
 * DriftRollups: a profile set or replaced through one is counted in its bins by the other from
 * its next batch on, with no restart and no record counted twice or left out.
 */
for (const kind of STORE_KINDS) {
  describe(`drift rollups kept by two writers on one ${kind} store`, () => {
    const replicas = twoReplicasOn(kind, 'switchyard-drift-two-')

    it('counts in the profile the other writer set, and in its replacement', async () => {
      const [a, b] = await replicas()
      const [onA, onB] = [new DriftRollups({ rebuildRecords: 400 }), new DriftRollups({ rebuildRecords: 400 })]
      await onA.attach(a)
      await onB.attach(b)
      const expectEqual = async () => {
        const request = { model: 'm', version: 'v1', since: T0, until: T0 + 3 * HOUR, reference: { kind: 'profile', version: 'v1' } as const }
        const [fast, full] = [await a.run(driftRaw(request), 'read'), await a.run(driftRaw({ ...request, isFull: true }), 'read')]
        expect(fast.source).toBe('rollups')
        expect(fast.live).toEqual(full.live)
      }
      await a.insert(records('v1', 41, 600, false, T0).stored)
      await a.run(putProfile('m', 'v1', referenceProfile(), 'tester', T0), 'write')
      await onA.refresh() // as the PUT through replica a does; b is told nothing
      await onA.rebuilt()
      await b.insert(records('v1', 42, 300, true, T0 + HOUR).stored)
      await a.insert(records('v1', 43, 300, false, T0 + HOUR + 60_000).stored)
      await expectEqual()
      // replaced through a, while b goes on writing, early and late minutes
      const rnd = new SeededRandom(6)
      const rows = generateCreditRows(1_000, 10).map(driftedRow)
      const inputs = rows.map((r) => inputsOf(r, rnd, true) as Record<string, string | number>)
      const replaced = buildProfile({ source: 'drifted rows', columns: new Map([...FEATURES, 'channel'].map((f) => [f, inputs.map((i) => i[f])])), scores: rows.map(scoreOf), records: rows.length })
      await a.run(putProfile('m', 'v1', replaced, 'tester', T0 + 1), 'write')
      await onA.refresh()
      await b.insert(records('v1', 44, 300, true, T0 + 2 * HOUR).stored)
      await b.insert(records('v1', 45, 200, false, T0 + 30_000).stored)
      await onA.rebuilt()
      await b.insert(records('v1', 46, 200, true, T0 + 2 * HOUR + 60_000).stored)
      await expectEqual()
    })
  })
}
