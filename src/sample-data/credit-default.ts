/**
 * A SYNTHETIC credit-card default data set, generated from a seed. It has the columns of the
 * public UCI "default of credit card clients" table (Yeh & Lien, 2009), less `sex`, which
 * is left out on purpose: a protected attribute has no place in a sample credit model.
 * No npm package ships a real credit-risk table, so the sample models and the traffic
 * simulator use this generator; the README says so plainly.
 *
 * The rules, per client:
 * - A hidden financial-stress score s ~ N(0, 1), a little higher for the young and for
 *   education 3-4. It drives everything below, and the label, without being a column.
 * - limit_bal: log-normal around NT$ 140,000, higher with education 1 and with age, lower
 *   with stress; rounded to 10,000, within 10,000 .. 1,000,000.
 * - age 21..79; marriage 1 married (more likely with age), 2 single, 3 others;
 *   education 1 graduate school, 2 university, 3 high school, 4 others.
 * - pay_6 .. pay_1 (pay_1 is the most recent month): a Markov chain. A client in delay
 *   (1..8 months) falls one month further behind with p 0.55, stays with p 0.25, else
 *   catches up; a client not in delay starts one with p = sigmoid(-3.2 + 1.3 s); otherwise
 *   -2 no consumption, -1 paid in full, 0 revolving credit.
 * - bill_amt6 .. bill_amt1: a random walk from a stress-driven utilisation of the limit,
 *   growing while in delay; slightly negative (a credit balance) now and then.
 * - pay_amt: paid in full pays last month's bill, revolving pays 5-30 %, delay pays 0-5 %.
 * - default: logistic in recent delay, delay history, utilisation, payment ratio, a U-shaped
 *   age effect, the log of the limit, education, plus interactions (high utilisation hurts
 *   more under 30; a delay hurts more with a limit under 50,000) and the hidden stress.
 *   5 % of labels are then flipped (label noise). About 22 % default, like UCI.
 */
import { SeededRandom } from './random.js'

export const CREDIT_FEATURES = [
  'limit_bal', 'education', 'marriage', 'age',
  'pay_1', 'pay_2', 'pay_3', 'pay_4', 'pay_5', 'pay_6',
  'bill_amt1', 'bill_amt2', 'bill_amt3', 'bill_amt4', 'bill_amt5', 'bill_amt6',
  'pay_amt1', 'pay_amt2', 'pay_amt3', 'pay_amt4', 'pay_amt5', 'pay_amt6',
] as const

export type CreditFeature = (typeof CREDIT_FEATURES)[number]
export type CreditRow = Record<CreditFeature, number> & { default: 0 | 1 }

const LABEL_NOISE = 0.05 // share of labels flipped

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x))

function generateRow(rng: SeededRandom): CreditRow {
  const age = Math.round(clamp(21 + Math.abs(rng.normal(13, 10)), 21, 79))
  const education = rng.choice([0.35, 0.47, 0.16, 0.02]) + 1
  const marriage = rng.choice([0.25 + age / 120, 0.7 - age / 150, 0.03]) + 1
  const stress = rng.normal() + (age < 28 ? 0.3 : 0) + (education >= 3 ? 0.25 : 0)
  const logLimit = Math.log(140_000) + 0.35 * (education === 1 ? 1 : 0) + 0.01 * (age - 35) - 0.3 * stress + rng.normal(0, 0.55)
  const limit_bal = clamp(Math.round(Math.exp(logLimit) / 10_000) * 10_000, 10_000, 1_000_000)

  // repayment status, oldest month (6) first
  const pay: number[] = new Array(7).fill(0)
  let state = 0
  for (let m = 6; m >= 1; m--) {
    if (state > 0) {
      const r = rng.next()
      state = r < 0.55 ? Math.min(8, state + 1) : r < 0.8 ? state : rng.next() < 0.5 ? 0 : -1
    } else if (rng.next() < sigmoid(-3.2 + 1.3 * stress)) {
      state = 1
    } else {
      state = [-2, -1, 0][rng.choice([0.1, 0.35, 0.55])]
    }
    pay[m] = state
  }

  // bills: a random walk from a utilisation driven by stress; bill 6 is the oldest
  const bill: number[] = new Array(7).fill(0)
  let utilisation = clamp(sigmoid(rng.normal(-0.6 + 0.7 * stress, 0.9)), 0, 1.05)
  for (let m = 6; m >= 1; m--) {
    if (pay[m] === -2) utilisation *= 0.3
    else utilisation = clamp(utilisation * (1 + rng.normal(0.02, 0.08)) + (pay[m] > 0 ? 0.04 : 0), 0, 1.2)
    let amount = Math.round(limit_bal * utilisation)
    if (rng.next() < 0.02) amount = -Math.round(Math.abs(rng.normal(0, 800)))
    bill[m] = amount
  }

  const payAmt: number[] = new Array(7).fill(0)
  for (let m = 1; m <= 6; m++) {
    const previousBill = Math.max(0, m < 6 ? bill[m + 1] : bill[m])
    const share = pay[m] === -1 ? 1 : pay[m] === -2 ? 0 : pay[m] === 0 ? 0.05 + 0.25 * rng.next() : 0.05 * rng.next()
    payAmt[m] = Math.round(previousBill * share)
  }

  const util1 = Math.max(0, bill[1]) / limit_bal
  const payRatio1 = payAmt[1] / (Math.abs(bill[1]) + 1)
  const delayHistory = (pay[2] + pay[3] + pay[4] + pay[5] + pay[6]) / 5
  const logit =
    -2.6 +
    0.75 * Math.max(0, pay[1]) +
    0.3 * Math.max(0, delayHistory) +
    1.1 * util1 -
    0.9 * Math.min(1, payRatio1) +
    0.12 * ((age - 45) / 10) ** 2 -
    0.25 * Math.log(limit_bal / 100_000) +
    0.2 * (education >= 3 ? 1 : 0) +
    0.8 * util1 * (age < 30 ? 1 : 0) +
    0.5 * (pay[1] > 0 && limit_bal < 50_000 ? 1 : 0) +
    0.45 * stress
  let label: 0 | 1 = rng.next() < sigmoid(logit) ? 1 : 0
  if (rng.next() < LABEL_NOISE) label = label === 1 ? 0 : 1

  return {
    limit_bal, education, marriage, age,
    pay_1: pay[1], pay_2: pay[2], pay_3: pay[3], pay_4: pay[4], pay_5: pay[5], pay_6: pay[6],
    bill_amt1: bill[1], bill_amt2: bill[2], bill_amt3: bill[3], bill_amt4: bill[4], bill_amt5: bill[5], bill_amt6: bill[6],
    pay_amt1: payAmt[1], pay_amt2: payAmt[2], pay_amt3: payAmt[3], pay_amt4: payAmt[4], pay_amt5: payAmt[5], pay_amt6: payAmt[6],
    default: label,
  }
}

/**
 * The same client a year into a downturn, for `switchyard simulate --drift`: younger applicants
 * (the bank's new online channel), limits cut by 40 %, bills up 50 % and delays one month
 * longer. Inputs and scores drift from the training data; the label is the one drawn for the
 * client as generated (the drift is in the inputs, not in the rules that make defaults).
 */
export function driftedRow(row: CreditRow): CreditRow {
  const out = { ...row }
  out.age = Math.max(21, row.age - 12)
  out.limit_bal = Math.max(10_000, Math.round((row.limit_bal * 0.6) / 10_000) * 10_000)
  for (const m of [1, 2, 3, 4, 5, 6] as const) {
    out[`bill_amt${m}`] = Math.round(row[`bill_amt${m}`] * 1.5)
    out[`pay_${m}`] = row[`pay_${m}`] > 0 ? Math.min(8, row[`pay_${m}`] + 1) : row[`pay_${m}`]
  }
  return out
}

/** An endless stream of rows for a seed, e.g. for the traffic simulator. */
export function* creditRowGenerator(seed: number, options: { drifted?: boolean } = {}): Generator<CreditRow> {
  const rng = new SeededRandom(seed)
  for (;;) yield options.drifted === true ? driftedRow(generateRow(rng)) : generateRow(rng)
}

/** `count` rows for a seed; the same seed always gives the same rows. */
export function generateCreditRows(count: number, seed: number): CreditRow[] {
  const rows: CreditRow[] = []
  const gen = creditRowGenerator(seed)
  for (let i = 0; i < count; i++) rows.push(gen.next().value as CreditRow)
  return rows
}

/** The canonical CSV of rows (header, then one line a row), whose sha256 names a data set. */
export function toCsv(rows: readonly CreditRow[]): string {
  const columns = [...CREDIT_FEATURES, 'default'] as const
  return [columns.join(','), ...rows.map((r) => columns.map((c) => r[c]).join(','))].join('\n') + '\n'
}
