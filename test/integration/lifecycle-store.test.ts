/**
 * Issue #6 in both real stores: the lifecycle operations run as one transaction each, the
 * rules hold (second person, requester cancels, locks, live traffic), and the activity log
 * cannot be changed even in SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STORES } from './stores.js'
import type { StoreUnderTest } from './stores.js'
import { decide, listActivity, listRequests, registerVersions, requestStage, setLock } from '../../src/lifecycle/operations.js'

const stores = STORES

describe.each(Object.keys(stores))('lifecycle in %s', (kind) => {
  let t: StoreUnderTest
  const none = { liveTraffic: {} }
  beforeAll(async () => {
    t = await stores[kind]()
    await t.store.migrate()
  })
  afterAll(() => t.cleanup())

  it('registers new versions as Unassigned, once', async () => {
    const first = await t.store.run(registerVersions([{ model: 'm', version: 'v1' }, { model: 'm', version: 'v2' }]))
    expect(first.map((s) => [s.version, s.stage, s.locked])).toEqual([['v1', 'Unassigned', false], ['v2', 'Unassigned', false]])
    await t.store.run(registerVersions([{ model: 'm', version: 'v1' }, { model: 'm', version: 'v3' }]))
    const registered = (await t.store.run(listActivity({ limit: 100 }))).filter((a) => a.kind === 'version-registered')
    expect(registered.map((a) => a.version).sort()).toEqual(['v1', 'v2', 'v3'])
  })

  it('takes a stage change only when a second person approves it, flagging a skip', async () => {
    const request = await t.store.run(requestStage({ model: 'm', version: 'v1', to: 'Production', actor: 'alice', comment: 'fast track', liveTraffic: null }))
    expect(request).toMatchObject({ status: 'pending', from_stage: 'Unassigned', to_stage: 'Production', skipped: ['Development', 'Staging'], requester: 'alice' })
    await expect(t.store.run(requestStage({ model: 'm', version: 'v1', to: 'Staging', actor: 'bob', comment: null, liveTraffic: null })))
      .rejects.toMatchObject({ code: 'STAGE_REQUEST_PENDING' })
    await expect(t.store.run(decide({ id: request.id, action: 'approve', actor: 'alice', comment: null, ...none }))).rejects.toMatchObject({ code: 'SECOND_PERSON_REQUIRED' })
    await expect(t.store.run(decide({ id: request.id, action: 'cancel', actor: 'bob', comment: null, ...none }))).rejects.toMatchObject({ code: 'NOT_THE_REQUESTER' })
    const approved = await t.store.run(decide({ id: request.id, action: 'approve', actor: 'bob', comment: 'ok', ...none }))
    expect(approved).toMatchObject({ status: 'approved', decided_by: 'bob', decision_comment: 'ok' })
    await expect(t.store.run(decide({ id: request.id, action: 'reject', actor: 'carol', comment: null, ...none }))).rejects.toMatchObject({ code: 'STAGE_REQUEST_CLOSED' })
    const stages = await t.store.run(registerVersions([]))
    expect(stages.find((s) => s.version === 'v1')?.stage).toBe('Production')
  })

  it('lets the requester cancel and an approver reject, changing nothing', async () => {
    const a = await t.store.run(requestStage({ model: 'm', version: 'v2', to: 'Development', actor: 'alice', comment: null, liveTraffic: null }))
    expect(a.skipped).toEqual([])
    expect(await t.store.run(decide({ id: a.id, action: 'cancel', actor: 'alice', comment: null, ...none }))).toMatchObject({ status: 'cancelled' })
    const b = await t.store.run(requestStage({ model: 'm', version: 'v2', to: 'Development', actor: 'alice', comment: null, liveTraffic: null }))
    expect(await t.store.run(decide({ id: b.id, action: 'reject', actor: 'bob', comment: 'not yet', ...none }))).toMatchObject({ status: 'rejected' })
    expect((await t.store.run(registerVersions([]))).find((s) => s.version === 'v2')?.stage).toBe('Unassigned')
    expect((await t.store.run(listRequests({ model: 'm', status: 'pending' })))).toEqual([])
  })

  it('refuses to change a locked version, and to archive one that takes live traffic', async () => {
    await t.store.run(setLock('m', 'v3', true, 'root', 'audit'))
    await expect(t.store.run(requestStage({ model: 'm', version: 'v3', to: 'Staging', actor: 'alice', comment: null, liveTraffic: null }))).rejects.toMatchObject({ code: 'VERSION_LOCKED' })
    await t.store.run(setLock('m', 'v3', false, 'root', null))
    await expect(t.store.run(requestStage({ model: 'm', version: 'v1', to: 'Archived', actor: 'alice', comment: null, liveTraffic: "in routes.yaml (route 'm')" })))
      .rejects.toMatchObject({ code: 'VERSION_TAKES_LIVE_TRAFFIC', message: expect.stringContaining("route 'm'") })
    // requested while idle, approved once it has become live: refused at approval
    const r = await t.store.run(requestStage({ model: 'm', version: 'v3', to: 'Archived', actor: 'alice', comment: null, liveTraffic: null }))
    await expect(t.store.run(decide({ id: r.id, action: 'approve', actor: 'bob', comment: null, liveTraffic: { 'm/v3': "in routes.yaml (route 'm')" } }))).rejects.toMatchObject({ code: 'VERSION_TAKES_LIVE_TRAFFIC' })
    expect((await t.store.run(listRequests({ status: 'pending' }))).map((x) => x.id)).toEqual([r.id]) // the refused approval changed nothing
  })

  it('lets only one of two requests made at the same moment through', async () => {
    await t.store.run(registerVersions([{ model: 'race', version: 'v1' }]))
    const outcomes = await Promise.allSettled(['alice', 'bob'].map((actor) =>
      t.store.run(requestStage({ model: 'race', version: 'v1', to: 'Staging', actor, comment: null, liveTraffic: null }))))
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult
    expect(refused.reason).toMatchObject({ code: 'STAGE_REQUEST_PENDING' })
    expect(await t.store.run(listRequests({ model: 'race', status: 'pending' }))).toHaveLength(1)
  })

  it('keeps an append-only activity log of every step, with who and when', async () => {
    const kinds = (await t.store.run(listActivity({ model: 'm', limit: 1000 }))).map((a) => a.kind)
    for (const k of ['version-registered', 'stage-requested', 'stage-approved', 'stage-cancelled', 'stage-rejected', 'version-locked', 'version-unlocked']) expect(kinds).toContain(k)
    const [latest] = await t.store.run(listActivity({ model: 'm', limit: 1 }))
    expect(latest).toMatchObject({ actor: 'alice', kind: 'stage-requested' })
    await expect(t.tamper("UPDATE activity SET actor = 'mallory'")).rejects.toThrow(/append-only/)
    await expect(t.tamper('DELETE FROM activity')).rejects.toThrow(/append-only/)
  })
})
