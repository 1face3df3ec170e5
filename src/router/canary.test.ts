import { describe, expect, it } from 'vitest'
import { CanaryController, parseIntervalMs } from './canary.js'

function controller(rollback: Record<string, number>, steps = [10, 50, 100]) {
  let now = 1_000_000
  const c = new CanaryController('m', { baseline: 'v1', candidate: 'v2', steps, interval: '60s', rollback }, { now: () => now })
  return { c, advance: (ms: number) => (now += ms) }
}

describe('canary controller', () => {
  it('parses intervals', () => {
    expect([parseIntervalMs('250ms'), parseIntervalMs('60s'), parseIntervalMs('5m'), parseIntervalMs('1h')]).toEqual([250, 60_000, 300_000, 3_600_000])
  })

  it('steps up once per interval while healthy, then completes', () => {
    const { c, advance } = controller({ error_rate: 0.5 })
    const serve = () => { for (let i = 0; i < 20; i++) c.observeCandidate(false, 1) }
    expect(c.percent).toBe(10)
    serve()
    advance(59_000)
    c.tick()
    expect(c.percent).toBe(10)
    advance(1_000)
    c.tick()
    expect(c.percent).toBe(50)
    serve()
    advance(60_000)
    c.tick()
    expect(c.percent).toBe(100)
    serve()
    advance(60_000)
    c.tick()
    expect(c.status).toBe('complete')
  })

  // issue #17: an idle second gateway stepped to 100 % on no requests
  it('does not step on a step that saw fewer than its minimum of requests, and says it waits', () => {
    const { c, advance } = controller({ min_requests: 20 })
    advance(60_000)
    c.tick()
    for (let i = 0; i < 19; i++) c.observeCandidate(false, 1)
    advance(60_000)
    c.tick()
    expect(c.percent).toBe(10)
    expect(c.status).toBe('halted')
    expect(c.events.map((e) => e.kind)).toEqual(['started', 'halted'])
    expect(c.events[1].detail).toMatch(/^step 1 of 3 \(10%\) waits for traffic: 0 of 20 candidate requests/)
    c.observeCandidate(false, 1) // the 20th
    c.tick()
    expect(c.percent).toBe(50)
    expect(c.status).toBe('progressing')
  })

  it('sends about its percent of random traffic to the candidate', () => {
    const { c } = controller({})
    let candidate = 0
    for (let i = 0; i < 10_000; i++) if (c.pick(null).isCandidate) candidate++
    expect(candidate / 10_000).toBeGreaterThan(0.08)
    expect(candidate / 10_000).toBeLessThan(0.12)
  })

  it('rolls back on p99 latency over the limit, once enough requests were seen', () => {
    const { c } = controller({ p99_ms: 50, min_requests: 100 })
    for (let i = 0; i < 99; i++) c.observeCandidate(false, i < 90 ? 5 : 80)
    expect(c.status).toBe('progressing') // not judged before 100 requests
    c.observeCandidate(false, 80)
    expect(c.status).toBe('rolled-back')
    expect(c.percent).toBe(0)
    expect(c.events.at(-1)!.detail).toMatch(/^p99 latency 80\.0 ms > 50 ms over 100 requests/)
    expect(c.pick(null).version).toBe('v1')
  })

  it('rolls back on disagreement with the baseline', () => {
    const { c } = controller({ disagreement: 0.2, min_requests: 10 })
    for (let i = 0; i < 10; i++) c.observeCandidate(false, 1)
    for (let i = 0; i < 10; i++) c.observeComparison(i >= 3) // 30 % disagree
    expect(c.status).toBe('rolled-back')
    expect(c.events.at(-1)!.detail).toMatch(/^disagreement with v1 0\.300 > 0\.2 over 10 compared requests/)
  })

  it('does not roll back a healthy candidate, and judges each step afresh', () => {
    const { c, advance } = controller({ error_rate: 0.1, min_requests: 10 })
    for (let i = 0; i < 100; i++) c.observeCandidate(i % 20 === 0, 2) // 5 % errors
    advance(60_000)
    c.tick()
    expect(c.status).toBe('progressing')
    expect(c.percent).toBe(50)
    expect(c.describe().current.requests).toBe(0)
  })
})
