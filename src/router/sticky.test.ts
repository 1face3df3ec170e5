import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BUCKETS, bucketOf, buildBucketTable, stickyHash } from './sticky.js'

const VERSIONS = ['v1', 'v2', 'v3']

/** Weights in percent over three versions, summing to 100. */
const weights3 = fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }))
  .filter(([a, b]) => a + b <= 100)
  .map(([a, b]) => [a, b, 100 - a - b])

describe('sticky buckets', () => {
  it('puts the same key in the same bucket, every time', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (route, key) => {
      expect(bucketOf(route, key)).toBe(bucketOf(route, key))
      expect(bucketOf(route, key)).toBeGreaterThanOrEqual(0)
      expect(bucketOf(route, key)).toBeLessThan(BUCKETS)
    }))
  })

  // Replicas of two releases serve side by side during a rolling deploy: a change to these
  // values sends a user to another version depending on the replica. The hashes are FNV-1a over
  // UTF-16 code units then murmur3's fmix32, as sticky.ts says (checked against an independent
  // implementation when they were pinned); changing them is a migration, not a refactor.
  it.each([
    ['credit-risk', 'customer-42', 2_374_354_817, 4_817],
    ['credit-risk', 'customer-43', 1_152_651_815, 1_815],
    ['iris', 'customer-42', 1_019_268_806, 8_806],
    ['credit-risk', '', 2_089_029_255, 9_255],
    ['credit-risk', 'Zoë 🚀', 273_359_698, 9_698],
    ['', 'x', 1_175_668_303, 8_303],
  ])('hashes route %j, key %j to %i, bucket %i, in every release', (route, key, hash, bucket) => {
    expect(stickyHash(route, key)).toBe(hash)
    expect(bucketOf(route, key)).toBe(bucket)
  })

  it('gives the buckets to the same versions in every release', () => {
    const split = buildBucketTable(['v1', 'v2'], [90, 10])
    expect([...split.keys()].filter((b) => split[b] === 1).slice(0, 12)).toEqual([3, 9, 67, 75, 88, 89, 95, 96, 98, 104, 110, 125])
    expect(Array.from(buildBucketTable(['v1', 'v2', 'v3'], [50, 30, 20]).subarray(0, 20))).toEqual([2, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1])
  })

  it('gives each version about its share of the buckets', () => {
    fc.assert(fc.property(weights3, (w) => {
      const table = buildBucketTable(VERSIONS, w)
      const counts = [0, 0, 0]
      for (const i of table) counts[i]++
      for (let i = 0; i < 3; i++) {
        if (w[i] === 0) expect(counts[i]).toBe(0)
        else expect(Math.abs(counts[i] / BUCKETS - w[i] / 100)).toBeLessThan(0.02)
      }
    }), { numRuns: 30 })
  })

  it('A/B: raising one version moves only the extra share of keys, all of them to it', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a]
      const t0 = buildBucketTable(['v1', 'v2'], [100 - lo, lo])
      const t1 = buildBucketTable(['v1', 'v2'], [100 - hi, hi])
      let moved = 0
      let movedElsewhere = 0
      for (let k = 0; k < BUCKETS; k++) {
        if (t0[k] !== t1[k]) {
          moved++
          if (t1[k] !== 1) movedElsewhere++ // only ever towards the raised version
        }
      }
      expect(movedElsewhere).toBe(0)
      expect(Math.abs(moved / BUCKETS - (hi - lo) / 100)).toBeLessThan(0.02)
    }), { numRuns: 40 })
  })

  it('three or more versions: the raised version keeps all its keys, and keys move only to it while the others keep their ratios', () => {
    fc.assert(fc.property(weights3, fc.integer({ min: 0, max: 2 }), fc.double({ min: 0.05, max: 0.95, noNaN: true }), (before, raised, keep) => {
      fc.pre(before[raised] < 100)
      // the others shrink by one common factor, so their ratios hold; the raised one takes the rest
      const after = before.map((w, i) => (i === raised ? 0 : w * keep))
      after[raised] = 100 - after.reduce((x, y) => x + y, 0)
      const t0 = buildBucketTable(VERSIONS, before)
      const t1 = buildBucketTable(VERSIONS, after)
      let wrongMoves = 0
      for (let k = 0; k < BUCKETS; k++) if (t0[k] !== t1[k] && t1[k] !== raised) wrongMoves++
      expect(wrongMoves).toBe(0)
    }), { numRuns: 40 })
  })

  it('does not depend on the order versions are listed in', () => {
    const a = buildBucketTable(['v1', 'v2', 'v3'], [50, 30, 20])
    const b = buildBucketTable(['v3', 'v1', 'v2'], [20, 50, 30])
    const names = (t: Uint16Array, vs: string[]) => Array.from(t, (i) => vs[i])
    expect(names(b, ['v3', 'v1', 'v2'])).toEqual(names(a, ['v1', 'v2', 'v3']))
  })
})
