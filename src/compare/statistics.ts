/**
 * The statistics of a comparison, from the aggregates the store computed: percentiles from a
 * latency histogram, AUC from a score histogram split by the truth, confidence intervals and
 * two-sample tests. Plain formulas, each with its source, so the numbers can be checked.
 */

/** The q-quantile of a histogram whose bucket b holds values in (growth^b, growth^(b+1)]; the bucket's upper edge. */
export function quantileFromBuckets(counts: ReadonlyMap<number, number>, q: number, growth: number): number | null {
  const buckets = [...counts.keys()].sort((a, b) => a - b)
  const total = buckets.reduce((n, b) => n + counts.get(b)!, 0)
  if (total === 0) return null
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (const b of buckets) {
    seen += counts.get(b)!
    if (seen >= rank) return growth ** (b + 1)
  }
  return growth ** (buckets[buckets.length - 1] + 1)
}

/**
 * Area under the ROC curve from per-bin counts of positives and negatives, bins in score
 * order: the Mann–Whitney statistic, a tie (same bin) counting one half.
 */
export function aucFromBins(positives: readonly number[], negatives: readonly number[]): number | null {
  const p = positives.reduce((a, b) => a + b, 0)
  const n = negatives.reduce((a, b) => a + b, 0)
  if (p === 0 || n === 0) return null
  let negativesBelow = 0
  let wins = 0
  for (let i = 0; i < positives.length; i++) {
    wins += positives[i] * (negativesBelow + negatives[i] / 2)
    negativesBelow += negatives[i]
  }
  return wins / (p * n)
}

/** Standard error of an AUC (Hanley & McNeil, Radiology 1982). */
export function aucStandardError(auc: number, positives: number, negatives: number): number {
  const q1 = auc / (2 - auc)
  const q2 = (2 * auc * auc) / (1 + auc)
  return Math.sqrt((auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives))
}

const Z95 = 1.959963984540054

/** Wilson score interval for a proportion (95%). */
export function wilson(successes: number, n: number): [number, number] | null {
  if (n === 0) return null
  const p = successes / n
  const z2 = Z95 * Z95
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n)
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n)
  return [Math.max(0, centre - half), Math.min(1, centre + half)]
}

/** A mean's 95% interval from n, sum and sum of squares (normal approximation). */
export function meanInterval(n: number, sum: number, sumSquares: number): { mean: number; sd: number; ci95: [number, number] } | null {
  if (n === 0) return null
  const mean = sum / n
  const variance = n > 1 ? Math.max(0, (sumSquares - n * mean * mean) / (n - 1)) : 0
  const sd = Math.sqrt(variance)
  const half = (Z95 * sd) / Math.sqrt(n)
  return { mean, sd, ci95: [mean - half, mean + half] }
}

/** Two-sided p-value of a standard normal z. */
export function twoSidedP(z: number): number {
  return 2 * (1 - normalCdf(Math.abs(z)))
}

/** Φ(x), from erf (Abramowitz & Stegun 7.1.26, error < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2))
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
  const erf = 1 - poly * Math.exp(-(x * x) / 2)
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2
}

/** z for the difference of two estimates with independent standard errors. */
export function zOfDifference(a: number, seA: number, b: number, seB: number): number {
  const se = Math.sqrt(seA * seA + seB * seB)
  return se === 0 ? 0 : (a - b) / se
}
