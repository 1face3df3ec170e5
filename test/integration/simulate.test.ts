/**
 * Issue #5, the traffic simulator: it replays sample rows at a rate with sticky keys, posts
 * their true labels after the delay, and the comparison then has ground truth for every case.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDuration, simulate } from '../../src/cli/simulate.js'
import { get, makeRepository, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

let dir: string
let gw: Running

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-simulate-'))
  const repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' } })
  writeFileSync(join(dir, 'routes.yaml'), `
routes:
  credit-risk:
    split: { v1: 70, v2: 30 }
    sticky: header:x-customer-id
    shadow: { v3: 100 }
`)
  gw = await startGateway({ modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill') })
})

afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('switchyard simulate', () => {
  it('sends at the rate for the duration, posts every true label after the delay, and the comparison fills in', async () => {
    const started = Date.now()
    const s = await simulate({ url: gw.url, model: 'credit-risk', rps: 60, durationMs: 2_000, groundTruthDelayMs: 400, customers: 25, seed: 7, out: null })
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000)
    expect(s).toMatchObject({ sent: 120, answered: 120, failed: 0, groundTruthPosted: 120, groundTruthJoined: 120 })
    expect((s.byVersion.v1 ?? 0) + (s.byVersion.v2 ?? 0)).toBe(120)
    const compare = await get(`${gw.url}/v1/models/credit-risk/compare`)
    const challenger = compare.body.versions.find((v: { version: string; role: string }) => v.version === 'v3' && v.role === 'shadow')
    expect(challenger.ground_truth.count).toBe(120)
    const primaries = compare.body.versions.filter((v: { role: string }) => v.role === 'primary')
    expect(primaries.reduce((n: number, v: { ground_truth: { count: number } }) => n + v.ground_truth.count, 0)).toBe(120)
  })

  it('keeps each simulated customer on one version (the route is sticky)', async () => {
    const res = await get(`${gw.url}/v1/models/credit-risk/inferences?role=primary&limit=1000`)
    const versionsByKey = new Map<string, Set<string>>()
    for (const r of res.body.inferences) {
      if (!versionsByKey.has(r.sticky_hash)) versionsByKey.set(r.sticky_hash, new Set())
      versionsByKey.get(r.sticky_hash)!.add(r.version)
    }
    expect(versionsByKey.size).toBe(25)
    expect([...versionsByKey.values()].every((v) => v.size === 1)).toBe(true)
  })

  it('reads durations as a person writes them', () => {
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('5m')).toBe(300_000)
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('12')).toBe(12_000)
    expect(() => parseDuration('soon')).toThrow(/duration/)
  })
})
