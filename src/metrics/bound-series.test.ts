import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { BoundCounter, BoundHistogram } from './bound-series.js'

const BUCKETS = [0.001, 0.01, 0.1, 1]
const OBSERVED = [0.0005, 0.001, 0.002, 0.05, 0.05, 0.7, 3, 12]

/** The exposition text of one registry, with the metric's name replaced so that two can be compared. */
async function exposition(registry: Registry, name: string): Promise<string> {
  return (await registry.metrics()).replaceAll(name, 'm')
}

describe('bound series', () => {
  it('a histogram exports exactly what prom-client’s own Histogram exports for the same observations', async () => {
    const ours = new Registry()
    const theirs = new Registry()
    const fast = new BoundHistogram({ name: 'fast_seconds', help: 'h', labelNames: ['model', 'role'], buckets: BUCKETS, registers: [ours] })
    const reference = new Histogram({ name: 'ref_seconds', help: 'h', labelNames: ['model', 'role'], buckets: BUCKETS, registers: [theirs] })
    const a = fast.labels('credit-risk', 'primary')
    const b = fast.labels('credit-risk', 'shadow')
    for (const v of OBSERVED) {
      a.observe(v)
      reference.labels('credit-risk', 'primary').observe(v)
    }
    b.observe(0.02)
    reference.labels('credit-risk', 'shadow').observe(0.02)
    expect(await exposition(ours, 'fast_seconds')).toBe(await exposition(theirs, 'ref_seconds'))
  })

  it('a counter exports exactly what prom-client’s own Counter exports, and binding the same values twice is one series', async () => {
    const ours = new Registry()
    const theirs = new Registry()
    const fast = new BoundCounter({ name: 'fast_total', help: 'c', labelNames: ['version', 'outcome'], registers: [ours] })
    const reference = new Counter({ name: 'ref_total', help: 'c', labelNames: ['version', 'outcome'], registers: [theirs] })
    fast.labels('v1', 'ok').inc()
    fast.labels('v1', 'ok').inc(2)
    fast.labels('v2', 'INFERENCE_FAILED').inc()
    reference.labels('v1', 'ok').inc(3)
    reference.labels('v2', 'INFERENCE_FAILED').inc()
    expect(await exposition(ours, 'fast_total')).toBe(await exposition(theirs, 'ref_total'))
  })

  it('refuses label values that do not match its label names', () => {
    const fast = new BoundCounter({ name: 'x_total', help: 'c', labelNames: ['a', 'b'], registers: [] })
    expect(() => fast.labels('only-one')).toThrow(/expected 2 label values/)
  })
})

describe('bound series that were never used', () => {
  it('are not exported, as prom-client exports a child only once it is used', async () => {
    const registry = new Registry()
    new BoundCounter({ name: 'unused_total', help: 'c', labelNames: ['a'], registers: [registry] }).labels('x')
    new BoundHistogram({ name: 'unused_seconds', help: 'h', labelNames: ['a'], buckets: BUCKETS, registers: [registry] }).labels('x')
    const text = await registry.metrics()
    expect(text).toContain('# TYPE unused_total counter')
    expect(text).not.toMatch(/^unused_/m)
  })
})

describe('bound series after Registry.resetMetrics', () => {
  it('start again from zero, and a series bound before still counts', async () => {
    const registry = new Registry()
    const counter = new BoundCounter({ name: 'kept_total', help: 'c', labelNames: ['a'], registers: [registry] })
    const histogram = new BoundHistogram({ name: 'kept_seconds', help: 'h', labelNames: ['a'], buckets: BUCKETS, registers: [registry] })
    const c = counter.labels('x')
    const h = histogram.labels('x')
    c.inc(5)
    h.observe(0.5)
    registry.resetMetrics()
    expect(await registry.metrics()).not.toMatch(/^kept_/m)
    c.inc()
    h.observe(0.002)
    const text = await registry.metrics()
    expect(text).toMatch(/^kept_total\{a="x"\} 1$/m)
    expect(text).toMatch(/^kept_seconds_count\{a="x"\} 1$/m)
    expect(text).toMatch(/^kept_seconds_sum\{a="x"\} 0.002$/m)
  })
})
