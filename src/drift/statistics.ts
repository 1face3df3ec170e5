/**
 * The drift statistics, from two histograms over the same bins (a reference and a window):
 * the population stability index, the Kolmogorov–Smirnov distance of their binned CDFs and
 * the chi-square test of homogeneity, each p-value from its textbook formula.
 */

/** A share below this counts as this (an empty bin would make PSI infinite); 1e-4, as is usual for PSI. */
export const PSI_FLOOR = 1e-4

const total = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)

/** PSI = Σ (a − e) · ln(a / e) over the bins' shares, each share at least PSI_FLOOR. */
export function psi(reference: readonly number[], actual: readonly number[]): number | null {
  const nr = total(reference)
  const na = total(actual)
  if (nr === 0 || na === 0) return null
  let sum = 0
  for (let i = 0; i < reference.length; i++) {
    const e = Math.max(reference[i] / nr, PSI_FLOOR)
    const a = Math.max(actual[i] / na, PSI_FLOOR)
    sum += (a - e) * Math.log(a / e)
  }
  return sum
}

/**
 * The KS distance of two binned samples (the largest gap between their CDFs at the bins'
 * edges) and its asymptotic p-value with the effective size n·m/(n+m) (Numerical Recipes,
 * 3rd ed., §14.3.3). Binning can only hide gaps, so the distance is at most the exact one.
 */
export function ksTest(reference: readonly number[], actual: readonly number[]): { statistic: number; p_value: number } | null {
  const nr = total(reference)
  const na = total(actual)
  if (nr === 0 || na === 0) return null
  let cr = 0
  let ca = 0
  let d = 0
  for (let i = 0; i < reference.length; i++) {
    cr += reference[i]
    ca += actual[i]
    d = Math.max(d, Math.abs(cr / nr - ca / na))
  }
  const ne = (nr * na) / (nr + na)
  const sqrtNe = Math.sqrt(ne)
  return { statistic: d, p_value: kolmogorovQ((sqrtNe + 0.12 + 0.11 / sqrtNe) * d) }
}

/** Q_KS(λ) = 2 Σ (−1)^(j−1) exp(−2 j² λ²), the Kolmogorov distribution's upper tail. */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 1.18) {
    // the series converges slowly here; its alternative form (Numerical Recipes 6.14.56)
    if (lambda <= 0) return 1
    const y = Math.exp(-(Math.PI * Math.PI) / (8 * lambda * lambda))
    const p = (Math.sqrt(2 * Math.PI) / lambda) * (y + y ** 9 + y ** 25 + y ** 49)
    return Math.min(1, Math.max(0, 1 - p))
  }
  let sum = 0
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda)
    sum += (j % 2 === 1 ? 1 : -1) * term
    if (term < 1e-16) break
  }
  return Math.min(1, Math.max(0, 2 * sum))
}

/**
 * The chi-square test that two samples come from one categorical distribution (a 2 × k
 * contingency table); categories empty in both are left out. Degrees of freedom k − 1.
 */
export function chiSquareTest(reference: readonly number[], actual: readonly number[]): { statistic: number; p_value: number } | null {
  const nr = total(reference)
  const na = total(actual)
  if (nr === 0 || na === 0) return null
  const n = nr + na
  let statistic = 0
  let k = 0
  for (let i = 0; i < reference.length; i++) {
    const column = reference[i] + actual[i]
    if (column === 0) continue
    k++
    const er = (column * nr) / n
    const ea = (column * na) / n
    statistic += (reference[i] - er) ** 2 / er + (actual[i] - ea) ** 2 / ea
  }
  if (k < 2) return { statistic: 0, p_value: 1 }
  return { statistic, p_value: chiSquareSurvival(statistic, k - 1) }
}

/** P(X² ≥ x) for `df` degrees of freedom: the regularised upper incomplete gamma Q(df/2, x/2). */
export function chiSquareSurvival(x: number, df: number): number {
  if (x <= 0) return 1
  return upperGammaQ(df / 2, x / 2)
}

/** Q(a, x) by its series below a + 1 and its continued fraction above (Numerical Recipes §6.2). */
function upperGammaQ(a: number, x: number): number {
  const lnPrefix = -x + a * Math.log(x) - logGamma(a)
  if (x < a + 1) {
    let term = 1 / a
    let sum = term
    for (let n = 1; n < 1_000 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) {
      term *= x / (a + n)
      sum += term
    }
    return Math.min(1, Math.max(0, 1 - sum * Math.exp(lnPrefix)))
  }
  // modified Lentz
  const tiny = 1e-300
  let b = x + 1 - a
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let i = 1; i < 1_000; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < tiny) d = tiny
    c = b + an / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < 1e-15) break
  }
  return Math.min(1, Math.max(0, Math.exp(lnPrefix) * h))
}

/** ln Γ(x), Lanczos (g = 7, n = 9). */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  const z = x - 1
  let a = c[0]
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += c[i] / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}
