/**
 * GET /v1/models/{model}/compare: how each version does, in each role, over a window, from
 * the store's aggregates (compare-sql.ts): traffic beside the configured weight, errors,
 * latency, the distribution of predictions, metrics on ground truth with 95% intervals,
 * agreement with the primary on the same inference ids, and for two versions whether the
 * difference in one metric is significant.
 */
import type { CompareRaw } from './compare-sql.js'
import { LATENCY_GROWTH, POSITIVE_LABELS, SCORE_BINS } from './compare-sql.js'
import { aucFromBins, aucStandardError, meanInterval, quantileFromBuckets, twoSidedP, wilson, zOfDifference } from './statistics.js'

export type Task = 'binary-classification' | 'multiclass-classification' | 'regression'
export const METRICS = ['accuracy', 'auc', 'log_loss', 'mae'] as const
export type Metric = (typeof METRICS)[number]

const HISTOGRAM_BINS = 10 // bins of the score histogram shown (the store keeps 1000)
const SIGNIFICANCE = 0.05

interface Estimate {
  readonly value: number
  readonly ci95: [number, number] | null
  /** For the significance test. */
  readonly se: number
  readonly n: number
}

export interface VersionReport {
  version: string
  role: string
  requests: number
  errors: number
  error_rate: number
  /** Share of the model's primary traffic in the window (primary rows only). */
  traffic_share: number | null
  /** The share routes.yaml gives it now, in percent (primary rows only). */
  configured_weight: number | null
  latency_ms: { mean: number | null; p50: number | null; p95: number | null; p99: number | null }
  predictions: { scored: number; mean_score: number | null; score_histogram: number[]; class_shares: Record<string, number> }
  ground_truth: {
    count: number
    accuracy: Estimate | null
    precision: number | null
    recall: number | null
    auc: Estimate | null
    log_loss: Estimate | null
    mae: Estimate | null
    rmse: number | null
  } | null
  agreement_with_primary: { compared: number; agreed: number; rate: number; ci95: [number, number] | null } | null
}

export interface CompareOptions {
  readonly task: Task | null
  /** version -> percent, from the routes in force. */
  readonly weights: ReadonlyMap<string, number>
  /** Two versions (`v1` or `v1:challenger`) to test on `metric`. */
  readonly pair: readonly [string, string] | null
  readonly metric: Metric | null
}

export function buildComparison(raw: CompareRaw, options: CompareOptions) {
  const task = options.task ?? inferTask(raw)
  const key = (r: { version: string; role: string }) => `${r.version}\u0000${r.role}`
  const groups = new Map(raw.summary.map((s) => [key(s), s]))
  const primaryTotal = raw.summary.filter((s) => s.role === 'primary').reduce((n, s) => n + s.requests, 0)
  const versions: VersionReport[] = [...groups.entries()].map(([k, s]) => {
    const latency = new Map(raw.latency.filter((l) => key(l) === k).map((l) => [l.bucket, l.n]))
    return {
      version: s.version,
      role: s.role,
      requests: s.requests,
      errors: s.errors,
      error_rate: s.requests === 0 ? 0 : s.errors / s.requests,
      traffic_share: s.role === 'primary' && primaryTotal > 0 ? s.requests / primaryTotal : null,
      configured_weight: s.role === 'primary' ? options.weights.get(s.version) ?? null : null,
      latency_ms: {
        mean: s.requests === 0 ? null : s.latency_sum / s.requests,
        p50: quantileFromBuckets(latency, 0.5, LATENCY_GROWTH),
        p95: quantileFromBuckets(latency, 0.95, LATENCY_GROWTH),
        p99: quantileFromBuckets(latency, 0.99, LATENCY_GROWTH),
      },
      predictions: predictions(raw, k, key, s.scored, s.score_sum),
      ground_truth: groundTruth(raw, k, key, task),
      agreement_with_primary: agreement(raw, k, key),
    }
  }).sort((a, b) => a.version.localeCompare(b.version, undefined, { numeric: true }) || a.role.localeCompare(b.role))
  const metric = options.metric ?? (task === 'regression' ? 'mae' : task === 'binary-classification' ? 'auc' : 'accuracy')
  return { task, versions, significance: options.pair === null ? null : significance(versions, options.pair, metric) }
}

type GroupKey = (r: { version: string; role: string }) => string

function predictions(raw: CompareRaw, k: string, key: GroupKey, scored: number, scoreSum: number) {
  const histogram = new Array<number>(HISTOGRAM_BINS).fill(0)
  for (const s of raw.scores) if (key(s) === k) histogram[Math.min(HISTOGRAM_BINS - 1, Math.floor((s.bin * HISTOGRAM_BINS) / SCORE_BINS))] += s.n
  const counts = raw.classes.filter((c) => key(c) === k && c.predicted !== null)
  const total = counts.reduce((n, c) => n + c.n, 0)
  const classShares = Object.fromEntries(counts.sort((a, b) => String(a.predicted).localeCompare(String(b.predicted))).map((c) => [c.predicted, c.n / total]))
  return { scored, mean_score: scored === 0 ? null : scoreSum / scored, score_histogram: histogram, class_shares: classShares }
}

function groundTruth(raw: CompareRaw, k: string, key: GroupKey, task: Task): VersionReport['ground_truth'] {
  const outcomes = raw.outcomes.filter((o) => key(o) === k)
  const count = outcomes.reduce((n, o) => n + o.n, 0)
  if (count === 0) return null
  if (task === 'regression') {
    const n = outcomes.reduce((a, o) => a + o.err_n, 0)
    const abs = outcomes.reduce((a, o) => a + o.err_abs, 0)
    const sq = outcomes.reduce((a, o) => a + o.err_sq, 0)
    const mae = meanInterval(n, abs, sq) // |e|² = e², so the sum of squares serves both
    return {
      count, accuracy: null, precision: null, recall: null, auc: null, log_loss: null,
      mae: mae === null ? null : { value: mae.mean, ci95: mae.ci95, se: mae.sd / Math.sqrt(n), n },
      rmse: n === 0 ? null : Math.sqrt(sq / n),
    }
  }
  const correct = outcomes.reduce((a, o) => a + (o.predicted !== null && o.predicted === o.truth ? o.n : 0), 0)
  const accuracy = correct / count
  const result: NonNullable<VersionReport['ground_truth']> = {
    count,
    accuracy: { value: accuracy, ci95: wilson(correct, count), se: Math.sqrt((accuracy * (1 - accuracy)) / count), n: count },
    precision: null, recall: null, auc: null, log_loss: null, mae: null, rmse: null,
  }
  if (task === 'binary-classification') {
    const isPositive = (label: string | null) => label !== null && POSITIVE_LABELS.includes(label)
    const tp = outcomes.reduce((a, o) => a + (isPositive(o.predicted) && isPositive(o.truth) ? o.n : 0), 0)
    const predictedPositive = outcomes.reduce((a, o) => a + (isPositive(o.predicted) ? o.n : 0), 0)
    const actualPositive = outcomes.reduce((a, o) => a + (isPositive(o.truth) ? o.n : 0), 0)
    result.precision = predictedPositive === 0 ? null : tp / predictedPositive
    result.recall = actualPositive === 0 ? null : tp / actualPositive
    const positives = new Array<number>(SCORE_BINS).fill(0)
    const negatives = new Array<number>(SCORE_BINS).fill(0)
    for (const s of raw.scores) {
      if (key(s) !== k || s.truth === null) continue
      if (isPositive(s.truth)) positives[s.bin] += s.n
      else negatives[s.bin] += s.n
    }
    const auc = aucFromBins(positives, negatives)
    if (auc !== null) {
      const p = positives.reduce((a, b) => a + b, 0)
      const n = negatives.reduce((a, b) => a + b, 0)
      const se = aucStandardError(auc, p, n)
      result.auc = { value: auc, ci95: [Math.max(0, auc - 1.96 * se), Math.min(1, auc + 1.96 * se)], se, n: p + n }
    }
    const lossN = outcomes.reduce((a, o) => a + o.loss_n, 0)
    const loss = meanInterval(lossN, outcomes.reduce((a, o) => a + o.loss_sum, 0), outcomes.reduce((a, o) => a + o.loss_sq, 0))
    if (loss !== null) result.log_loss = { value: loss.mean, ci95: loss.ci95, se: loss.sd / Math.sqrt(lossN), n: lossN }
  } else {
    // multiclass: macro averages over the classes that occur in the truth
    const classes = [...new Set(outcomes.map((o) => o.truth).filter((t): t is string => t !== null))]
    const per = classes.map((c) => {
      const tp = outcomes.reduce((a, o) => a + (o.predicted === c && o.truth === c ? o.n : 0), 0)
      const predicted = outcomes.reduce((a, o) => a + (o.predicted === c ? o.n : 0), 0)
      const actual = outcomes.reduce((a, o) => a + (o.truth === c ? o.n : 0), 0)
      return { precision: predicted === 0 ? 0 : tp / predicted, recall: actual === 0 ? 0 : tp / actual }
    })
    result.precision = per.length === 0 ? null : per.reduce((a, p) => a + p.precision, 0) / per.length
    result.recall = per.length === 0 ? null : per.reduce((a, p) => a + p.recall, 0) / per.length
  }
  return result
}

function agreement(raw: CompareRaw, k: string, key: GroupKey): VersionReport['agreement_with_primary'] {
  const a = raw.agreement.find((r) => key(r) === k)
  if (a === undefined || a.compared === 0) return null
  return { compared: a.compared, agreed: a.agreed, rate: a.agreed / a.compared, ci95: wilson(a.agreed, a.compared) }
}

/** Classification when every truth is a label, regression when truths are values; binary when labels are 0/1. */
function inferTask(raw: CompareRaw): Task {
  if (raw.outcomes.some((o) => o.err_n > 0)) return 'regression'
  const labels = new Set(raw.outcomes.map((o) => o.truth).filter((t) => t !== null))
  return [...labels].every((l) => ['0', '1', 'true', 'false'].includes(l as string)) ? 'binary-classification' : 'multiclass-classification'
}

/** `v1` or `v1:challenger`; without a role, the entry of that version with the most ground truth. */
function pick(versions: readonly VersionReport[], spec: string): VersionReport | null {
  const [version, role] = spec.split(':')
  const candidates = versions.filter((v) => v.version === version && (role === undefined || v.role === role))
  return candidates.sort((a, b) => (b.ground_truth?.count ?? 0) - (a.ground_truth?.count ?? 0))[0] ?? null
}

function significance(versions: readonly VersionReport[], pair: readonly [string, string], metric: Metric) {
  const a = pick(versions, pair[0])
  const b = pick(versions, pair[1])
  const ea = a?.ground_truth?.[metric] ?? null
  const eb = b?.ground_truth?.[metric] ?? null
  if (a === null || b === null || ea === null || eb === null) {
    return { metric, a: pair[0], b: pair[1], difference: null, z: null, p_value: null, significant: null, reason: `both need ground truth with a ${metric}` }
  }
  const z = zOfDifference(ea.value, ea.se, eb.value, eb.se)
  const p = twoSidedP(z)
  return {
    metric,
    a: `${a.version}:${a.role}`,
    b: `${b.version}:${b.role}`,
    difference: ea.value - eb.value,
    z,
    p_value: p,
    significant: p < SIGNIFICANCE,
    reason: `two-sided z-test at ${SIGNIFICANCE}, standard errors treated as independent${metric === 'auc' ? ' (Hanley & McNeil)' : ''}`,
  }
}
