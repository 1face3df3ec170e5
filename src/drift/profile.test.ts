import { describe, expect, it } from 'vitest'
import { binOf, buildProfile, columnBins, ReferenceProfileSchema } from './profile.js'

describe('reference profiles', () => {
  it('puts numeric edges at the distinct deciles, bins open at both ends', () => {
    const values = Array.from({ length: 100 }, (_, i) => i) // 0..99
    const bins = columnBins('x', values)
    expect(bins).toEqual({ feature: 'x', kind: 'numeric', n: 100, edges: [10, 20, 30, 40, 50, 60, 70, 80, 90], counts: new Array(10).fill(10) })
    const discrete = columnBins('pay', [...new Array(80).fill(0), ...new Array(20).fill(2)])
    expect(discrete).toMatchObject({ edges: [0, 2], counts: [0, 80, 20] })
  })

  it('bins a number by the count of edges at or below it', () => {
    expect([-5, 10, 10.5, 20, 95].map((x) => binOf([10, 20, 30], x))).toEqual([0, 1, 1, 2, 3])
  })

  it('counts categorical values by name when any value is not a number, missing ones left out', () => {
    const bins = columnBins('channel', ['web', 'web', 'branch', 3, null, undefined, ''])
    expect(bins).toEqual({ feature: 'channel', kind: 'categorical', n: 4, values: ['3', 'branch', 'web'], counts: [1, 1, 2, 0] })
  })

  it('builds a profile the endpoint accepts, and the schema refuses bins that do not fit', () => {
    const profile = buildProfile({ source: 'f.csv', columns: new Map([['a', [1, 2, 3]], ['b', ['x', 'y']]]), scores: [0.1, 0.9], records: 3 })
    expect(ReferenceProfileSchema.safeParse(profile).success).toBe(true)
    const broken = { ...profile, features: [{ ...profile.features[0], counts: [1] }] }
    expect(ReferenceProfileSchema.safeParse(broken).success).toBe(false)
    const unordered = { ...profile, features: [{ feature: 'a', kind: 'numeric', n: 2, edges: [2, 1], counts: [0, 1, 1] }] }
    expect(ReferenceProfileSchema.safeParse(unordered).success).toBe(false)
  })
})
