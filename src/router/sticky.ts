/**
 * Sticky assignment without shared state (docs/architecture.md): a key is hashed with its route
 * into one of 10,000 buckets, and each bucket belongs to one version. Every replica computes
 * the same table from the same weights, so the same key lands on the same version everywhere.
 *
 * Buckets are given to versions by weighted rendezvous hashing: bucket b goes to the version
 * with the highest score  w_v / -ln(u(b, v)),  u uniform in (0, 1) from hash(b, v). Raising one
 * version's weight raises only its own scores, so buckets move only TO it: the extra share
 * moves and no other key does. The order versions are listed in does not matter.
 *
 *   weights {v1: 90, v2: 10}     bucket:  0    3    19   39  ...  9999
 *                                table:   v1   v2   v1   v1  ...  v1     (1,041 buckets are v2's)
 *   weights {v1: 80, v2: 20}     table:   v1   v2   v2   v2  ...  v1     (1,990: only v1 -> v2 moves)
 */

export const BUCKETS = 10_000

/** FNV-1a over the UTF-16 code units, then murmur3's finaliser so that near keys spread. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return fmix32(h)
}

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The 32-bit hash of a sticky key on a route; the inference log keeps it instead of the key. */
export function stickyHash(route: string, key: string): number {
  return hash32(`${route}\u0000${key}`)
}

/** The bucket of a sticky key on a route. */
export function bucketOf(route: string, key: string): number {
  return stickyHash(route, key) % BUCKETS
}

/**
 * For each bucket, the index (into `versions`) of the version that owns it.
 * Versions with weight 0 own no bucket.
 */
export function buildBucketTable(versions: readonly string[], weights: readonly number[]): Uint16Array {
  const table = new Uint16Array(BUCKETS)
  const seeds = versions.map((v) => hash32(v))
  for (let b = 0; b < BUCKETS; b++) {
    let best = -1
    let bestScore = -Infinity
    for (let i = 0; i < versions.length; i++) {
      const w = weights[i]
      if (w <= 0) continue
      const u = (fmix32(seeds[i] ^ Math.imul(b + 1, 0x9e3779b1)) + 0.5) / 4_294_967_296
      const score = w / -Math.log(u)
      if (score > bestScore) {
        bestScore = score
        best = i
      }
    }
    table[b] = best
  }
  return table
}
