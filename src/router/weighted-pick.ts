/**
 * Picks a version by integer percent weights, either at random or, for a sticky key, by its
 * bucket (sticky.ts), so that one key always gets the same version while weights stay put.
 *
 *   weights {v1: 90, v2: 10}   cumulative [90, 100]   random r in [0,100): first index with r < cum
 *                              sticky: table[bucket]  (10,000 entries, built once)
 */
import { buildBucketTable } from './sticky.js'

export class WeightedPick {
  readonly versions: readonly string[]
  readonly #cumulative: readonly number[]
  readonly #table: Uint16Array

  constructor(weights: Readonly<Record<string, number>>) {
    this.versions = Object.keys(weights)
    const ws = this.versions.map((v) => weights[v])
    let sum = 0
    this.#cumulative = ws.map((w) => (sum += w))
    this.#table = buildBucketTable(this.versions, ws)
  }

  pick(bucket: number | null): string {
    return this.versions[this.pickIndex(bucket)]
  }

  /** The index into `versions` of the pick. */
  pickIndex(bucket: number | null): number {
    if (bucket !== null) return this.#table[bucket]
    const r = Math.random() * this.#cumulative[this.#cumulative.length - 1]
    for (let i = 0; i < this.#cumulative.length; i++) if (r < this.#cumulative[i]) return i
    return this.versions.length - 1
  }
}
