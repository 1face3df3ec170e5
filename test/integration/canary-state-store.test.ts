/**
 * Issue #17, point 3: the canaries' operations on both real stores. One replica at a time
 * holds the judge's lease, another takes it once it lapses; a verdict is written only by the
 * holder and only over the state it judged; every replica's counts of a step add up.
 */
import { describe, expect, it } from 'vitest'
import { judge, read, sync } from '../../src/store/canary-state.js'
import type { CanaryReport, StepCounts } from '../../src/store/canary-state.js'
import { sql } from '../../src/store/operation.js'
import type { Operation } from '../../src/store/operation.js'
import { STORE_KINDS, twoReplicasOn } from './stores.js'

const counts = (requests: number, errors = 0): StepCounts => ({ requests, errors, slow: 0, compared: 0, disagreed: 0, p99Ms: requests })
const report = (step: number, c: StepCounts): CanaryReport => ({ key: 'k1', model: 'm', started: { percent: 10, detail: 'candidate v2 at 10%' }, step, counts: c })
const LEASE_MS = 300

describe.each(STORE_KINDS)('canaries on %s', (kind) => {
  const twoReplicas = twoReplicasOn(kind, 'switchyard-canary-store-')

  it('gives the lease to one replica, sums every replica\'s counts for it, and hands it over once it lapses', async () => {
    const [a, b] = await twoReplicas()
    const first = await a.run(sync('A', LEASE_MS, [report(0, counts(3))]))
    expect(first).toMatchObject({ isJudge: true, created: ['k1'] })
    expect(first.canaries[0].state).toMatchObject({ step: 0, status: 'progressing', events: [{ kind: 'started', percent: 10 }] })
    const second = await b.run(sync('B', LEASE_MS, [report(0, counts(4, 1))]))
    expect(second).toMatchObject({ isJudge: false, created: [], canaries: [] })
    const again = await a.run(sync('A', LEASE_MS, [report(0, counts(5))])) // A's counts replaced, B's added
    expect(again.canaries[0].totals).toEqual({ requests: 9, errors: 1, slow: 0, compared: 0, disagreed: 0, p99Ms: 5 })
    expect((await b.run(read(['k1']), 'read')).judge).toBe('A')
    await new Promise((r) => setTimeout(r, LEASE_MS + 50)) // A stops renewing (killed)
    expect((await b.run(read(['k1']), 'read')).judge).toBeNull()
    expect(await b.run(sync('B', LEASE_MS, [report(0, counts(4, 1))]))).toMatchObject({ isJudge: true })
    expect(await a.run(sync('A', LEASE_MS, [report(0, counts(5))]))).toMatchObject({ isJudge: false })
  })

  it('writes a verdict only from the holder, and only over the state it judged', async () => {
    const [a, b] = await twoReplicas()
    const { canaries: [c] } = await a.run(sync('A', LEASE_MS, [report(0, counts(20))]))
    const next = { step: 1, status: 'progressing' as const, stepStartedMs: Date.now(), events: [...c.state.events, { at: new Date().toISOString(), kind: 'step' as const, percent: 50, detail: 'now at 50%' }] }
    expect(await b.run(judge('B', 'k1', c.state, next))).toBe(false) // not the holder
    expect(await a.run(judge('A', 'k1', c.state, next))).toBe(true)
    expect(await a.run(judge('A', 'k1', c.state, next))).toBe(false) // judged already: the state moved on
    const seen = await b.run(read(['k1']), 'read')
    expect(seen.canaries[0].state).toMatchObject({ step: 1, events: [{ kind: 'started' }, { kind: 'step', percent: 50 }] })
    expect(seen.canaries[0].totals.requests).toBe(0) // step 1 has no counts yet; step 0's stay with step 0
  })

  it("keeps only the counts of the step in force: a replica's a row, none left of the steps before", async () => {
    const [a, b] = await twoReplicas()
    function* countRows(): Operation<string[]> {
      const rows = yield sql('SELECT step, replica FROM canary_counts ORDER BY step, replica')
      return rows.map((r) => `${r.step}/${r.replica}`)
    }
    const { canaries: [c] } = await a.run(sync('A', LEASE_MS, [report(0, counts(20))]))
    await b.run(sync('B', LEASE_MS, [report(0, counts(7))]))
    expect(await a.run(countRows(), 'read')).toEqual(['0/A', '0/B'])
    const next = { step: 1, status: 'progressing' as const, stepStartedMs: Date.now(), events: c.state.events }
    expect(await a.run(judge('A', 'k1', c.state, next))).toBe(true)
    expect(await a.run(countRows(), 'read')).toEqual([])
    await b.run(sync('B', LEASE_MS, [report(0, counts(9))])) // B has not followed yet: its count for step 0 is of no use
    await a.run(sync('A', LEASE_MS, [report(1, counts(3))]))
    expect(await a.run(countRows(), 'read')).toEqual(['1/A'])
  })
})
