/**
 * GET /v1/models/{model}/compare: how each version does, in each role, over a window, from
 * the store's aggregates (compare-rollups.ts): traffic beside the configured weight, errors,
 * latency, the distribution of predictions, metrics on ground truth with 95% intervals,
 * agreement with the primary on the same inference ids, and for two versions whether the
 * difference in one metric is significant.
 */
import type { CompareRaw } from './compare-sql.js'
import { DISPLAY_BINS, LATENCY_GROWTH, POSITIVE_LABELS, SCORE_BINS } from '../store/rollups.js'
import { aucFromBins, aucStandardError, meanInterval, quantileFromBuckets, twoSidedP, wilson, zOfDifference } from './statistics.js'

export type Task = 'binary-classification' | 'multiclass-classification' | 'regression'
export const METRICS = ['accuracy', 'auc', 'log_loss', 'mae'] as const
export type Metric = (typeof METRICS)[number]

const SIGNIFICANCE = 0.05
/** Inferences sent in (role external) were timed by nobody here. */
const NO_LATENCY = Object.freeze({ mean: null, p50: null, p95: null, p99: null })

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

interface Group {
  readonly version: string
  readonly role: string
  requests: number
  errors: number
  scored: number
  scoreSum: number
  latencySum: number
  readonly latency: Map<number, number>
  readonly classes: Map<string, number>
  readonly histogram: number[]
}

const groupKey = (r: { version: string; role: string }) => `${r.version}\u0000${r.role}`

/** Fold the rows of `traffic` and `predictions` into one group a version and role. */
function groups(raw: CompareRaw): Map<string, Group> {
  const out = new Map<string, Group>()
  const groupOf = (r: { version: string; role: string }): Group => {
    const k = groupKey(r)
    let g = out.get(k)
    if (g === undefined) {
      g = { version: r.version, role: r.role, requests: 0, errors: 0, scored: 0, scoreSum: 0, latencySum: 0, latency: new Map(), classes: new Map(), histogram: new Array<number>(DISPLAY_BINS).fill(0) }
      out.set(k, g)
    }
    return g
  }
  for (const r of raw.traffic) {
    const g = groupOf(r)
    g.requests += r.n
    g.latencySum += r.latency_sum
    if (!r.ok) {
      g.errors += r.n
      continue
    }
    g.scored += r.scored
    g.scoreSum += r.score_sum
    g.latency.set(r.bucket, (g.latency.get(r.bucket) ?? 0) + r.n)
  }
  for (const r of raw.predictions) {
    const g = groupOf(r)
    if (r.predicted !== null) g.classes.set(r.predicted, (g.classes.get(r.predicted) ?? 0) + r.n)
    if (r.bin !== null) g.histogram[r.bin] += r.n
  }
  return out
}

export function buildComparison(raw: CompareRaw, options: CompareOptions) {
  const task = options.task ?? inferTask(raw)
  const all = groups(raw)
  const primaryTotal = [...all.values()].filter((g) => g.role === 'primary').reduce((n, g) => n + g.requests, 0)
  const versions: VersionReport[] = [...all.entries()].map(([k, g]) => {
    const classTotal = [...g.classes.values()].reduce((a, b) => a + b, 0)
    return {
      version: g.version,
      role: g.role,
      requests: g.requests,
      errors: g.errors,
      error_rate: g.requests === 0 ? 0 : g.errors / g.requests,
      traffic_share: g.role === 'primary' && primaryTotal > 0 ? g.requests / primaryTotal : null,
      configured_weight: g.role === 'primary' ? options.weights.get(g.version) ?? null : null,
      latency_ms: g.role === 'external' ? NO_LATENCY : {
        mean: g.requests === 0 ? null : g.latencySum / g.requests,
        p50: quantileFromBuckets(g.latency, 0.5, LATENCY_GROWTH),
        p95: quantileFromBuckets(g.latency, 0.95, LATENCY_GROWTH),
        p99: quantileFromBuckets(g.latency, 0.99, LATENCY_GROWTH),
      },
      predictions: {
        scored: g.scored,
        mean_score: g.scored === 0 ? null : g.scoreSum / g.scored,
        score_histogram: g.histogram,
        class_shares: Object.fromEntries([...g.classes].sort(([a], [b]) => a.localeCompare(b)).map(([c, n]) => [c, n / classTotal])),
      },
      ground_truth: groundTruth(raw, k, task),
      agreement_with_primary: agreement(raw, k),
    }
  }).sort((a, b) => a.version.localeCompare(b.version, undefined, { numeric: true }) || a.role.localeCompare(b.role))
  const metric = options.metric ?? (task === 'regression' ? 'mae' : task === 'binary-classification' ? 'auc' : 'accuracy')
  return { task, versions, significance: options.pair === null ? null : significance(versions, options.pair, metric) }
}

function groundTruth(raw: CompareRaw, k: string, task: Task): VersionReport['ground_truth'] {
  const outcomes = raw.judged.filter((o) => groupKey(o) === k)
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
      if (groupKey(s) !== k) continue
      positives[s.bin] += s.positives
      negatives[s.bin] += s.negatives
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

function agreement(raw: CompareRaw, k: string): VersionReport['agreement_with_primary'] {
  const rows = raw.agreement.filter((r) => groupKey(r) === k)
  const compared = rows.reduce((n, r) => n + r.compared, 0)
  const agreed = rows.reduce((n, r) => n + r.agreed, 0)
  if (compared === 0) return null
  return { compared, agreed, rate: agreed / compared, ci95: wilson(agreed, compared) }
}

/** Classification when every truth is a label, regression when truths are values; binary when labels are 0/1. */
function inferTask(raw: CompareRaw): Task {
  if (raw.judged.some((o) => o.err_n > 0)) return 'regression'
  const labels = new Set(raw.judged.map((o) => o.truth).filter((t) => t !== null))
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
