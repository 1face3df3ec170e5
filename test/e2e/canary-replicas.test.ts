/**
 * Issue #17, point 3: three gateway processes on one PostgreSQL run one canary. (c) It steps
 * once for all, and the candidate's share of the traffic sent to all three is the step's;
 * errors on one replica alone roll all three back. (d) kill -9 of the replica holding the
 * judge's lease: another takes it over and the canary goes on from its step. (e) All three
 * restarted: the canary and the route history are where they were.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, inParallel, makeRepository } from '../integration/helpers.js'
import { createTestDatabase } from '../integration/postgres.js'
import { addRemoteVersion, startUpstream } from '../integration/remote-upstream.js'
import type { Upstream } from '../integration/remote-upstream.js'
import { AUTH, spawnGateway, stopGateways } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

// credit-risk: four seconds a step, judged after 25 candidate requests. churn: its candidate
// fails on the third replica alone (a remote version whose upstream answers 500 there).
const ROUTES = [
  'routes:',
  '  credit-risk:',
  '    canary: { baseline: v1, candidate: v2, steps: [10, 40, 70, 100], interval: 4s, rollback: { error_rate: 0.5, min_requests: 25 } }',
  '  churn:',
  '    canary: { baseline: v1, candidate: v2, steps: [50, 100], interval: 1h, rollback: { error_rate: 0.1, min_requests: 10 } }',
  '',
].join('\n')
const FOLLOW_MS = 3_000 // a verdict: the judge's next sync (1 s) and every replica's poll (0.5 s), on 2 busy cores

let db: Awaited<ReturnType<typeof createTestDatabase>>
let dir: string
let healthy: string
let failing: string
let broken: Upstream
let replicas: GatewayProcess[] = []
const records = creditRecords(8, 5)

const start = () => Promise.all([healthy, healthy, failing].map((models, i) =>
  spawnGateway(['--models', models, '--routes', join(dir, 'routes.yaml'), '--store', db.url, '--spill-dir', join(dir, `spill-${i}`)])))

async function stopAll(): Promise<void> {
  await stopGateways(replicas)
  replicas = []
}

const admin = async (r: GatewayProcess): Promise<any> => (await fetch(`${r.url}/admin/routes`, { headers: AUTH })).json()
const canaryOf = async (r: GatewayProcess, model: string): Promise<any> => (await admin(r)).routes[model].canary
const predict = async (r: GatewayProcess, model: string, i = 0): Promise<string | null> => {
  const res = await fetch(`${r.url}/v1/models/${model}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [records[i % records.length]] }) })
  await res.arrayBuffer()
  return res.headers.get('x-model-version')
}

/** Polls `among` until `done` holds for the canary of `model` on each; resolves to their canaries. */
async function untilAll(model: string, done: (canary: any) => boolean, among = replicas, withinMs = FOLLOW_MS): Promise<any[]> {
  const began = Date.now()
  for (;;) {
    const canaries = await Promise.all(among.map((r) => canaryOf(r, model)))
    if (canaries.every(done)) return canaries
    if (Date.now() - began > withinMs) throw new Error(`not on every replica within ${withinMs} ms: ${JSON.stringify(canaries.map((c) => ({ step: c.step, status: c.status, judge: c.judge, current: c.current })))}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Send credit-risk requests round-robin to `among` until `done` holds on all of them. */
async function driveUntil(done: (canary: any) => boolean, among: GatewayProcess[], withinMs: number): Promise<any[]> {
  const began = Date.now()
  for (;;) {
    await inParallel(6, 3, (i) => predict(among[i % among.length], 'credit-risk', i)) // few at a time: (e) needs the last step left short of its 25
    const canaries = await Promise.all(among.map((r) => canaryOf(r, 'credit-risk')))
    if (canaries.every(done)) return canaries
    if (Date.now() - began > withinMs) throw new Error(`not reached within ${withinMs} ms: ${JSON.stringify(canaries.map((c) => ({ step: c.step, status: c.status, judge: c.judge })))}`)
  }
}

const kinds = (c: any): string[] => c.events.map((e: { kind: string }) => e.kind)

beforeAll(async () => {
  db = await createTestDatabase()
  dir = mkdtempSync(join(tmpdir(), 'switchyard-canary-replicas-'))
  broken = await startUpstream('fail')
  healthy = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' }, churn: { v1: 'v1', v2: 'v2' } })
  failing = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' }, churn: { v1: 'v1' } })
  addRemoteVersion(failing, 'churn', 'v2', broken.url('churn', 'v2'))
  writeFileSync(join(dir, 'routes.yaml'), ROUTES)
  replicas = await start()
})

afterAll(async () => {
  await stopAll()
  await broken.close()
  for (const d of [dir, healthy, failing]) rmSync(d, { recursive: true, force: true })
  await db.drop()
})

describe('one canary for three replicas on one PostgreSQL', () => {
  it('(c) steps once for all, and the candidate takes the step\'s share of the traffic sent to all three', async () => {
    const first = await untilAll('credit-risk', (c) => c.judged_in === 'store' && c.judge !== null && c.step === 0)
    expect(new Set(first.map((c) => c.step_started_at)).size).toBe(1)
    const stepped = await driveUntil((c) => c.step === 1, replicas, 15_000)
    const all = await untilAll('credit-risk', (c) => c.step === 1)
    expect(all.map(kinds)).toEqual(Array(3).fill(all[0].events.length === 3 ? ['started', 'halted', 'step'] : ['started', 'step']))
    expect(new Set(all.map((c) => JSON.stringify(c.events))).size).toBe(1) // one step, decided once, seen by all
    const startedAt = stepped[0].step_started_at
    // the share: 150 requests, 50 to each replica, well inside the step's 4 s
    const versions = await inParallel(150, 6, (i) => predict(replicas[i % 3], 'credit-risk', i))
    const after = await Promise.all(replicas.map((r) => canaryOf(r, 'credit-risk')))
    expect(after.map((c) => c.step_started_at), 'the canary stepped again while the share was measured').toEqual([startedAt, startedAt, startedAt])
    const share = versions.filter((v) => v === 'v2').length / versions.length
    console.log(`candidate share at the 40 % step over three replicas: ${(share * 100).toFixed(1)} %`)
    expect(share).toBeGreaterThan(0.28)
    expect(share).toBeLessThan(0.52)
    // every replica's counts, summed in the store within a second or two (a replica sends its own alone);
    // on a slow machine the step's interval may end meanwhile: the next step, taken on the summed counts, shows it too
    const candidateAnswers = versions.filter((v) => v === 'v2').length
    await untilAll('credit-risk', (c) => (c.step === 1 && c.current.requests >= candidateAnswers) || c.step > 1)
  })

  it('(c) rolls all three back when the candidate fails on one replica alone', async () => {
    for (let i = 0; i < 40; i++) await predict(replicas[2], 'churn', i) // half to the candidate, which answers 500 there
    const all = await untilAll('churn', (c) => c.status === 'rolled-back')
    expect(all.map((c) => c.percent)).toEqual([0, 0, 0])
    expect(all.map(kinds)).toEqual(Array(3).fill(['started', 'rolled-back']))
    expect(all[0].events[1].detail).toMatch(/^error rate 1\.000 > 0\.1 over \d+ requests; traffic returned to v1/)
    for (const r of replicas.slice(0, 2)) for (let i = 0; i < 20; i++) expect(await predict(r, 'churn', i)).toBe('v1')
  })

  it('(d) goes on from its step when the judge is killed with -9: another replica takes the lease over', async () => {
    const [{ judge, step }] = await untilAll('credit-risk', (c) => c.judge !== null)
    expect(step).toBeLessThan(3) // (c)'s traffic may have taken it a step further, not to its last
    const holder = replicas.find((r) => judge.split('/')[1] === String(r.child.pid))!
    expect(holder).toBeDefined()
    holder.child.kill('SIGKILL')
    await holder.exited()
    const survivors = replicas.filter((r) => r !== holder)
    const killedAt = Date.now()
    const onTop = await driveUntil((c) => c.step === step + 1 && c.judge !== null && c.judge !== judge, survivors, 20_000)
    console.log(`lease taken over and the canary stepped within ${Date.now() - killedAt} ms of the kill`)
    const steps = onTop[0].events.filter((e: { kind: string }) => e.kind === 'step').map((e: { percent: number }) => e.percent)
    expect(steps).toEqual([40, 70, 100].slice(0, step + 1)) // on from its step, each step once, never started again
    expect(kinds(onTop[0]).filter((k) => k === 'started')).toHaveLength(1)
    // the killed replica comes back (as its pod would): it follows the canary where it is
    replicas = [...survivors, await spawnGateway(['--models', healthy, '--routes', join(dir, 'routes.yaml'), '--store', db.url, '--spill-dir', join(dir, 'spill-again')])]
    await untilAll('credit-risk', (c) => c.step === step + 1)
  })

  it('(e) is where it was, with the route history, after all three restart', async () => {
    // no traffic: the step's interval passes with too few requests, and the canary waits there; unless
    // (c) took it a step further and (d)'s traffic then completed its last step
    const [before] = await untilAll('credit-risk', (c) => c.status === 'halted' || c.status === 'complete', replicas, 10_000)
    if (before.status === 'halted') expect(before.events.at(-1).detail).toMatch(/^step \d of 4 \(\d+%\) waits for traffic: \d+ of 25 candidate requests/)
    const historyBefore = (await admin(replicas[0])).history
    const churnBefore = await canaryOf(replicas[0], 'churn')
    await stopAll()
    replicas = await start()
    const after = await Promise.all(replicas.map((r) => canaryOf(r, 'credit-risk')))
    for (const c of after) expect({ step: c.step, status: c.status, step_started_at: c.step_started_at, events: c.events }).toEqual({ step: before.step, status: before.status, step_started_at: before.step_started_at, events: before.events })
    expect((await Promise.all(replicas.map((r) => canaryOf(r, 'churn')))).map((c) => c.status)).toEqual([churnBefore.status, churnBefore.status, churnBefore.status])
    expect((await admin(replicas[1])).history).toEqual(historyBefore)
    const done = before.status === 'complete' ? after : await driveUntil((c) => c.status === 'complete', replicas, 25_000)
    expect(kinds(done[0]).filter((k) => k === 'complete')).toHaveLength(1)
  })
})
