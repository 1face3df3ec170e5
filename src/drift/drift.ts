/**
 * GET /v1/models/{model}/drift: how a version's inputs and score in a window differ from its
 * reference, per feature: PSI, and the Kolmogorov–Smirnov distance (numeric) or the chi-square
 * statistic (categorical) with a p-value; flagged past the model's PSI threshold (model.yaml
 * `drift: { psi: 0.2 }`). The counts come from the store (drift-sql.ts), the statistics from
 * statistics.ts.
 */
import type { DriftRaw, ReferenceSpec, WindowCounts } from './drift-sql.js'
import { chiSquareTest, ksTest, psi } from './statistics.js'

export const DEFAULT_PSI_THRESHOLD = 0.2 // "significant shift" in the usual PSI reading (< 0.1 none, 0.1–0.2 moderate)

export interface FeatureDrift {
  readonly feature: string
  readonly kind: 'numeric' | 'categorical'
  /** Values counted in the window (records that had this feature, or a score). */
  readonly n: number
  /** Values in the reference. */
  readonly reference_n: number
  readonly psi: number | null
  readonly test: 'ks' | 'chi_square'
  readonly statistic: number | null
  readonly p_value: number | null
  readonly flagged: boolean
}

export interface DriftReport {
  readonly model: string
  readonly version: string
  readonly reference: Record<string, unknown> & { kind: ReferenceSpec['kind'] }
  readonly since: string
  readonly until: string
  /** Answered records of the version in the window. */
  readonly n: number
  readonly thresholds: { readonly psi: number }
  /** Flagged first, then by PSI, highest first. */
  readonly features: readonly FeatureDrift[]
  readonly score: FeatureDrift | null
}

export interface DriftContext {
  readonly model: string
  readonly version: string
  readonly since: number
  readonly until: number
  readonly reference: ReferenceSpec
  readonly psiThreshold: number
}

const iso = (ms: number): string => new Date(ms).toISOString()

export function buildDriftReport(raw: DriftRaw, c: DriftContext): DriftReport {
  const columns = [...raw.binsFrom.profile.features, ...(raw.binsFrom.profile.score === null ? [] : [raw.binsFrom.profile.score])]
  const measured = columns.map((bins, k) => measure(bins.feature, bins.kind, raw.reference.columns[k], raw.live.columns[k], c.psiThreshold))
  const hasScore = raw.binsFrom.profile.score !== null
  const features = (hasScore ? measured.slice(0, -1) : measured)
    .sort((a, b) => Number(b.flagged) - Number(a.flagged) || (b.psi ?? -1) - (a.psi ?? -1) || a.feature.localeCompare(b.feature))
  return {
    model: c.model,
    version: c.version,
    reference: describeReference(raw, c),
    since: iso(c.since),
    until: iso(c.until),
    n: raw.live.records,
    thresholds: { psi: c.psiThreshold },
    features,
    score: hasScore ? measured[measured.length - 1] : null,
  }
}

function measure(feature: string, kind: 'numeric' | 'categorical', reference: WindowCounts['columns'][number], live: WindowCounts['columns'][number], threshold: number): FeatureDrift {
  const index = psi(reference.counts, live.counts)
  const test = kind === 'numeric' ? ksTest(reference.counts, live.counts) : chiSquareTest(reference.counts, live.counts)
  return {
    feature,
    kind,
    n: live.n,
    reference_n: reference.n,
    psi: index,
    test: kind === 'numeric' ? 'ks' : 'chi_square',
    statistic: test?.statistic ?? null,
    p_value: test?.p_value ?? null,
    flagged: index !== null && index >= threshold,
  }
}

function describeReference(raw: DriftRaw, c: DriftContext): DriftReport['reference'] {
  const bins = { version: raw.binsFrom.version, updated_at: iso(raw.binsFrom.updated_at) }
  const r = c.reference
  if (r.kind === 'profile') return { kind: 'profile', ...bins, records: raw.binsFrom.profile.records, source: raw.binsFrom.profile.source, updated_by: raw.binsFrom.updated_by }
  if (r.kind === 'version') return { kind: 'version', version: r.version, since: iso(c.since), until: iso(c.until), n: raw.reference.records, bins_from: bins.version }
  return { kind: 'window', version: c.version, since: iso(r.since), until: iso(r.until), n: raw.reference.records, bins_from: bins.version }
}
