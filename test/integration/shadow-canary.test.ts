/**
 * Issue #3: a slow or failing shadow changes neither the primary's status nor its latency;
 * a canary whose candidate fails is rolled back to the baseline, and the event is recorded;
 * a healthy canary steps up on its interval.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, get, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'
import { addRemoteVersion, startUpstream } from './remote-upstream.js'
import type { Upstream } from './remote-upstream.js'

const records = creditRecords(20, 3)
let repo: string
let routesDir: string
let slow: Upstream
let broken: Upstream
let gw: Running

const routesPath = () => join(routesDir, 'routes.yaml')
async function apply(yaml: string): Promise<void> {
  writeFileSync(routesPath(), yaml)
  const res = await post(`${gw.url}/admin/routes/reload`, {})
  expect(res.status).toBe(200)
}

/** Median latency of `n` sequential primary requests, and their statuses. */
async function primaryLatency(n: number): Promise<{ medianMs: number; statuses: Set<number> }> {
  const ms: number[] = []
  const statuses = new Set<number>()
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    const res = await post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [records[i % records.length]] })
    ms.push(performance.now() - started)
    statuses.add(res.status)
  }
  ms.sort((a, b) => a - b)
  return { medianMs: ms[Math.floor(n / 2)], statuses }
}

beforeAll(async () => {
  slow = await startUpstream('sleep')
  broken = await startUpstream('fail')
  repo = makeRepository({ 'credit-risk': { v1: 'v1' }, churn: { v1: 'v1' } })
  addRemoteVersion(repo, 'credit-risk', 'slow', slow.url('credit-risk', 'slow'), 5_000)
  addRemoteVersion(repo, 'credit-risk', 'broken', broken.url('credit-risk', 'broken'))
  addRemoteVersion(repo, 'churn', 'v2', broken.url('churn', 'v2'))
  routesDir = mkdtempSync(join(tmpdir(), 'switchyard-routes-'))
  writeFileSync(routesPath(), 'routes:\n  credit-risk:\n    split: { v1: 100 }\n')
  gw = await startGateway({ modelsDir: repo, routesPath: routesPath(), watchRoutes: false })
})

afterAll(async () => {
  await gw.close()
  await slow.close()
  await broken.close()
  rmSync(repo, { recursive: true, force: true })
  rmSync(routesDir, { recursive: true, force: true })
})

describe('shadow isolation', () => {
  it('a shadow that sleeps 500 ms and one that fails change neither the status nor the latency of the primary', async () => {
    await primaryLatency(20) // warm
    const without = await primaryLatency(100)
    await apply('routes:\n  credit-risk:\n    split: { v1: 100 }\n    shadow: { slow: 100, broken: 100 }\n')
    const withShadows = await primaryLatency(100)
    expect(without.statuses).toEqual(new Set([200]))
    expect(withShadows.statuses).toEqual(new Set([200]))
    expect(withShadows.medianMs).toBeLessThan(Math.max(without.medianMs * 1.5, without.medianMs + 2))
    expect(withShadows.medianMs).toBeLessThan(100) // nowhere near the shadow's 500 ms
    // the shadows did run, and the failures were counted rather than raised
    const mirrors = gw.gateway.mirrors
    const deadline = Date.now() + 10_000
    while (mirrors.statFor('credit-risk', 'broken', 'shadow').errors < 100 || slow.infers < 100) {
      if (Date.now() > deadline) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const stats = (await get(`${gw.url}/admin/routes`)).body.mirrors as { version: string; requests: number; errors: number }[]
    expect(stats.find((s) => s.version === 'broken')).toMatchObject({ requests: 100, errors: 100 })
    expect(stats.find((s) => s.version === 'slow')).toMatchObject({ requests: 100, errors: 0 })
    expect(slow.infers).toBe(100)
  })
})

describe('canary', () => {
  it('rolls back to the baseline when the candidate fails, and records the event', async () => {
    await apply([
      'routes:',
      '  credit-risk:',
      '    split: { v1: 100 }',
      '  churn:',
      '    canary:',
      '      baseline: v1',
      '      candidate: v2',
      '      steps: [50, 100]',
      '      interval: 10m',
      '      rollback: { error_rate: 0.1, min_requests: 10 }',
      '',
    ].join('\n'))
    const statuses: number[] = []
    for (let i = 0; i < 60; i++) statuses.push((await post(`${gw.url}/v1/models/churn/predict`, { instances: [records[i % records.length]] })).status)
    const canary = (await get(`${gw.url}/admin/routes`)).body.routes.churn.canary
    expect(canary.status).toBe('rolled-back')
    expect(canary.percent).toBe(0)
    expect(canary.events.map((e: { kind: string }) => e.kind)).toEqual(['started', 'rolled-back'])
    expect(canary.events[1].detail).toMatch(/^error rate 1\.000 > 0\.1 over 10 requests; traffic returned to v1/)
    // the candidate's failed answers were its own; after the rollback every answer is the baseline's
    expect(statuses.filter((s) => s !== 200).length).toBe(10)
    for (let i = 0; i < 30; i++) {
      const res = await post(`${gw.url}/v1/models/churn/predict`, { instances: [records[0]] })
      expect(res.status).toBe(200)
      expect(res.headers.get('x-model-version')).toBe('v1')
    }
  })

  it('keeps its state across a reload that does not change it, and steps up on its interval', async () => {
    const canaryRoutes = (extra: string) => [
      'routes:',
      '  credit-risk:',
      `    split: { v1: 100 }${extra}`,
      '  churn:',
      '    canary: { baseline: v1, candidate: v1-copy, steps: [10, 100], interval: 1s, rollback: { min_requests: 5 } }',
      '',
    ].join('\n')
    await addVersionAndRescan()
    await apply(canaryRoutes(''))
    const before = (await get(`${gw.url}/admin/routes`)).body.routes.churn.canary
    expect(before).toMatchObject({ percent: 10, status: 'progressing' })
    await apply(canaryRoutes('\n    labels: { stable: v1 }')) // another route changes; this canary does not
    const kept = (await get(`${gw.url}/admin/routes`)).body.routes.churn.canary
    expect(kept.events[0].at).toBe(before.events[0].at)
    // each step is judged once it has seen 5 candidate requests (issue #17: not on no traffic)
    for (let i = 0; i < 200; i++) await post(`${gw.url}/v1/models/churn/predict`, { instances: [records[0]] })
    await new Promise((r) => setTimeout(r, 1_300))
    expect((await get(`${gw.url}/admin/routes`)).body.routes.churn.canary.percent).toBe(100)
    for (let i = 0; i < 5; i++) await post(`${gw.url}/v1/models/churn/predict`, { instances: [records[0]] })
    await new Promise((r) => setTimeout(r, 1_300))
    const after = (await get(`${gw.url}/admin/routes`)).body.routes.churn.canary
    expect(after.percent).toBe(100)
    expect(after.status).toBe('complete')
    expect(after.events.map((e: { kind: string }) => e.kind).filter((k: string) => k !== 'halted')).toEqual(['started', 'step', 'complete'])
  })
})

/** Copy a new version into the running gateway's repository, as a person would, and rescan. */
async function addVersionAndRescan(): Promise<void> {
  const copy = makeRepository({ churn: { 'v1-copy': 'v3' } })
  cpSync(join(copy, 'churn', 'v1-copy'), join(repo, 'churn', 'v1-copy'), { recursive: true })
  rmSync(copy, { recursive: true, force: true })
  const res = await post(`${gw.url}/admin/models/rescan`, {})
  expect(res.body.added).toEqual(['churn/v1-copy'])
}
