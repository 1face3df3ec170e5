import { describe, expect, it } from 'vitest'
import { CREDIT_FEATURES, creditRowGenerator, generateCreditRows, toCsv } from './credit-default.js'

describe('synthetic credit-default generator', () => {
  const rows = generateCreditRows(20_000, 1)

  it('gives the same rows for the same seed, and other rows for another seed', () => {
    expect(generateCreditRows(50, 1)).toEqual(rows.slice(0, 50))
    expect(toCsv(generateCreditRows(50, 2))).not.toBe(toCsv(rows.slice(0, 50)))
    const stream = creditRowGenerator(1)
    expect([stream.next().value, stream.next().value]).toEqual(rows.slice(0, 2))
  })

  it('has a default rate near the UCI table (22 %)', () => {
    const rate = rows.reduce((n, r) => n + r.default, 0) / rows.length
    expect(rate).toBeGreaterThan(0.15)
    expect(rate).toBeLessThan(0.3)
  })

  it('keeps every column in its documented range', () => {
    const violations: string[] = []
    const check = (ok: boolean, what: string) => ok || violations.push(what)
    rows.forEach((r, i) => {
      check(r.limit_bal % 10_000 === 0 && r.limit_bal >= 10_000 && r.limit_bal <= 1_000_000, `row ${i} limit_bal ${r.limit_bal}`)
      check(r.age >= 21 && r.age <= 79, `row ${i} age ${r.age}`)
      check([1, 2, 3, 4].includes(r.education), `row ${i} education ${r.education}`)
      check([1, 2, 3].includes(r.marriage), `row ${i} marriage ${r.marriage}`)
      for (const m of [1, 2, 3, 4, 5, 6] as const) {
        check(Number.isInteger(r[`pay_${m}`]) && r[`pay_${m}`] >= -2 && r[`pay_${m}`] <= 8, `row ${i} pay_${m} ${r[`pay_${m}`]}`)
        check(r[`pay_amt${m}`] >= 0, `row ${i} pay_amt${m} ${r[`pay_amt${m}`]}`)
      }
    })
    expect(violations.slice(0, 5)).toEqual([])
    expect(Object.keys(rows[0])).toEqual([...CREDIT_FEATURES, 'default'])
  })

  it('makes recent delay a strong signal, as the rules say', () => {
    const rate = (pred: (r: (typeof rows)[number]) => boolean) => {
      const group = rows.filter(pred)
      return group.reduce((n, r) => n + r.default, 0) / group.length
    }
    expect(rate((r) => r.pay_1 >= 2)).toBeGreaterThan(rate((r) => r.pay_1 <= 0) + 0.2)
  })
})
