import { describe, expect, it } from 'vitest'
import { chiSquareSurvival, chiSquareTest, kolmogorovQ, ksTest, psi, PSI_FLOOR } from './statistics.js'

describe('drift statistics', () => {
  it('gives PSI as Σ (a − e) ln(a / e), empty bins at the floor', () => {
    expect(psi([50, 50], [50, 50])).toBe(0)
    expect(psi([25, 25, 50], [50, 25, 25])).toBeCloseTo(0.25 * Math.log(2) * 2, 12)
    expect(psi([100, 0], [90, 10])).toBeCloseTo((0.9 - 1) * Math.log(0.9) + (0.1 - PSI_FLOOR) * Math.log(0.1 / PSI_FLOOR), 12)
    expect(psi([1, 2], [0, 0])).toBeNull()
  })

  it("gives the Kolmogorov distribution's upper tail (values from scipy.special.kolmogorov)", () => {
    expect(kolmogorovQ(0.5)).toBeCloseTo(0.9639452436648751, 6)
    expect(kolmogorovQ(1.0)).toBeCloseTo(0.26999967167735456, 6)
    expect(kolmogorovQ(1.5)).toBeCloseTo(0.02221796261652513, 6)
    expect(kolmogorovQ(0)).toBe(1)
  })

  it('gives the KS distance of the binned CDFs and its p-value', () => {
    const t = ksTest([10, 20, 30, 40], [40, 30, 20, 10])!
    expect(t.statistic).toBeCloseTo(0.4, 12) // at the second edge: 0.3 against 0.7
    const ne = (100 * 100) / 200
    expect(t.p_value).toBeCloseTo(kolmogorovQ((Math.sqrt(ne) + 0.12 + 0.11 / Math.sqrt(ne)) * 0.4), 12)
    expect(ksTest([1, 1], [1, 1])).toEqual({ statistic: 0, p_value: 1 })
  })

  it("gives the chi-square survival function (values from scipy.stats.chi2.sf)", () => {
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 8)
    expect(chiSquareSurvival(10, 5)).toBeCloseTo(0.07523524614651217, 8)
    expect(chiSquareSurvival(0.5, 4)).toBeCloseTo(0.9735009788392561, 8)
    expect(chiSquareSurvival(150, 10)).toBeLessThan(1e-20)
  })

  it('tests homogeneity on a 2 × k table, leaving out categories empty on both sides', () => {
    // expected counts 30/30 and 70/70: statistic 2 × (10²/30 + 10²/70)
    const t = chiSquareTest([20, 80, 0], [40, 60, 0])!
    expect(t.statistic).toBeCloseTo(2 * (100 / 30 + 100 / 70), 10)
    expect(t.p_value).toBeCloseTo(chiSquareSurvival(t.statistic, 1), 12)
    expect(chiSquareTest([5, 0], [7, 0])).toEqual({ statistic: 0, p_value: 1 })
  })
})
