/**
 * Issue #17, as measured: two gateways on one store and one routes.yaml with a canary, traffic
 * sent to the first only. The idle second one stepped to 100 % on no requests, on its own
 * clock. Here on SQLite (what `--workers` on one machine shares): no canary steps on a step
 * that saw fewer than its minimum of requests, and both gateways are at one step, decided once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, eventually, get, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const ROUTES = 'routes:\n  credit-risk:\n    canary: { baseline: v1, candidate: v2, steps: [10, 50, 100], interval: 1s, rollback: { min_requests: 10 } }\n'
let dir: string
let repo: string
let gateways: Running[] = []
const canary = async (g: Running) => (await get(`${g.url}/admin/routes`)).body.routes['credit-risk'].canary

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-canary-gateways-'))
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
  writeFileSync(join(dir, 'routes.yaml'), ROUTES)
  const options = { modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'store.db')}`, spillDir: dir }
  gateways = [await startGateway(options), await startGateway(options)]
})

afterAll(async () => {
  for (const g of gateways) await g.close()
  rmSync(dir, { recursive: true, force: true })
  rmSync(repo, { recursive: true, force: true })
})

describe('a canary on two gateways sharing one store', () => {
  it('does not step without traffic: it halts at its first step and says it waits', async () => {
    await new Promise((r) => setTimeout(r, 3_500)) // three intervals, no request
    for (const g of gateways) {
      const c = await canary(g)
      expect({ percent: c.percent, status: c.status }).toEqual({ percent: 10, status: 'halted' })
      expect(c.events.map((e: { kind: string }) => e.kind)).toEqual(['started', 'halted'])
      expect(c.events[1].detail).toMatch(/waits for traffic: 0 of 10 candidate requests/)
    }
  })

  it('steps both once when the first alone has the traffic', async () => {
    const records = creditRecords(1, 3)
    const [first, second] = await eventually(async () => {
      for (let i = 0; i < 20; i++) await post(`${gateways[0].url}/v1/models/credit-risk/predict`, { instances: records })
      const both = await Promise.all(gateways.map(canary))
      expect(both[0].percent).toBeGreaterThanOrEqual(50)
      expect(both[1].events).toEqual(both[0].events) // the second follows within half a second
      return both
    }, 15_000)
    expect(second.percent).toBe(first.percent)
    // each step once, decided by one judge for both (each on its own clock stepped twice)
    const steps = first.events.filter((e: { kind: string }) => e.kind === 'step').map((e: { percent: number }) => e.percent)
    expect(steps).toEqual([50, 100].slice(0, steps.length))
    expect(first.judged_in).toBe('store')
  })
})
