import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { aucFromBins, meanInterval, normalCdf, quantileFromBuckets, twoSidedP, wilson } from './statistics.js'

/** AUC by definition: the share of (positive, negative) pairs ranked right, ties half. */
function aucByPairs(pos: number[], neg: number[]): number {
  let wins = 0
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0
  return wins / (pos.length * neg.length)
}

describe('aucFromBins', () => {
  it('equals the pairwise definition when scores are bin positions', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 19 }), { minLength: 1, maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 19 }), { minLength: 1, maxLength: 60 }), (pos, neg) => {
      const p = new Array(20).fill(0)
      const n = new Array(20).fill(0)
      for (const s of pos) p[s]++
      for (const s of neg) n[s]++
      expect(aucFromBins(p, n)).toBeCloseTo(aucByPairs(pos, neg), 12)
    }))
  })

  it('is null without positives or negatives', () => {
    expect(aucFromBins([0, 0], [1, 2])).toBeNull()
  })
})

describe('intervals and tests', () => {
  it('gives the Wilson interval of 8 in 10', () => {
    const [lo, hi] = wilson(8, 10)!
    expect(lo).toBeCloseTo(0.4902, 3)
    expect(hi).toBeCloseTo(0.9433, 3)
  })

  it('gives the normal distribution and two-sided p-values', () => {
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6)
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 5)
    expect(twoSidedP(1.959963984540054)).toBeCloseTo(0.05, 6)
  })

  it('gives a mean and its interval from n, sum and sum of squares', () => {
    const xs = [1, 2, 3, 4, 10]
    const m = meanInterval(xs.length, xs.reduce((a, b) => a + b, 0), xs.reduce((a, b) => a + b * b, 0))!
    expect(m.mean).toBe(4)
    expect(m.sd).toBeCloseTo(Math.sqrt(((1 - 4) ** 2 + (2 - 4) ** 2 + 1 + 0 + 36) / 4), 12)
  })

  it('reads quantiles off a log-bucket histogram to within a bucket', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 0.5 + i / 100) // 0.5 .. 10.49 ms
    const growth = 1.05
    const counts = new Map<number, number>()
    for (const v of values) {
      const b = Math.floor(Math.log(v) / Math.log(growth))
      counts.set(b, (counts.get(b) ?? 0) + 1)
    }
    const p99 = quantileFromBuckets(counts, 0.99, growth)!
    expect(p99).toBeGreaterThanOrEqual(values[989])
    expect(p99).toBeLessThanOrEqual(values[989] * growth * growth)
  })
})
