/**
 * The inference records' SQL, the same for both stores: the columns a batch inserts, and the
 * operations that read records back (filters, keyset pagination, the API's row shape).
 */
import { namedOperations, reads, sql } from './operation.js'
import type { Operation } from './operation.js'
import type { InferenceFilter, InferenceQuery, InferenceRecord, InferenceRole, StoredInference } from './records.js'

export const INSERT_COLUMNS = [
  'record_id', 'inference_id', 'ts', 'server_ts', 'model', 'version', 'route', 'reason', 'role',
  'sticky_hash', 'inputs', 'outputs', 'latency_ms', 'status', 'error_code', 'revision', 'attributes',
  'predicted_label', 'score',
] as const

/** A row's values in INSERT_COLUMNS order, written into `out` from `at` (no allocation a row). */
export function putRowValues(r: StoredInference, out: unknown[], at: number): void {
  out[at] = r.record_id; out[at + 1] = r.inference_id; out[at + 2] = r.ts; out[at + 3] = r.server_ts; out[at + 4] = r.model
  out[at + 5] = r.version; out[at + 6] = r.route; out[at + 7] = r.reason; out[at + 8] = r.role; out[at + 9] = r.sticky_hash
  out[at + 10] = r.inputs; out[at + 11] = r.outputs; out[at + 12] = r.latency_ms; out[at + 13] = r.status
  out[at + 14] = r.error_code; out[at + 15] = r.revision; out[at + 16] = r.attributes
  out[at + 17] = r.predicted_label; out[at + 18] = r.score
}

function whereClause(q: InferenceFilter, p: (value: unknown) => string): string[] {
  const where = [`i.model = ${p(q.model)}`]
  if (q.version !== undefined) where.push(`i.version = ${p(q.version)}`)
  if (q.role !== undefined) where.push(`i.role = ${p(q.role)}`)
  if (q.since !== undefined) where.push(`i.ts >= ${p(q.since)}`)
  if (q.until !== undefined) where.push(`i.ts < ${p(q.until)}`)
  if (q.hasGroundTruth !== undefined) where.push(`g.inference_id IS ${q.hasGroundTruth ? 'NOT ' : ''}NULL`)
  return where
}

/** `p(value)` keeps the value as the statement's next parameter and gives its placeholder. */
function parameters(): { params: unknown[]; p: (value: unknown) => string } {
  const params: unknown[] = []
  return { params, p: (value) => (params.push(value), '?') }
}

const FROM = 'FROM inferences i LEFT JOIN ground_truth g ON g.model = i.model AND g.inference_id = i.inference_id'

/** A page of records, with their ground truth, ordered by (ts, record_id). */
export function* queryInferences(q: InferenceQuery): Operation<InferenceRecord[]> {
  const { params, p } = parameters()
  const where = whereClause(q, p)
  const dir = q.order === 'desc' ? 'DESC' : 'ASC'
  if (q.after !== undefined) where.push(`(i.ts, i.record_id) ${q.order === 'desc' ? '<' : '>'} (${p(q.after.ts)}, ${p(q.after.recordId)})`)
  const rows = yield sql(`SELECT i.*, g.label AS gt_label, g.value AS gt_value, g.ts AS gt_ts ${FROM}
    WHERE ${where.join(' AND ')}
    ORDER BY i.ts ${dir}, i.record_id ${dir}
    LIMIT ${p(q.limit)}`, ...params)
  return rows.map(toInferenceRecord)
}

/** Records of one model, or of all. */
export function* countInferences(model?: string): Operation<number> {
  const [row] = model === undefined
    ? yield sql('SELECT count(*) AS n FROM inferences')
    : yield sql('SELECT count(*) AS n FROM inferences WHERE model = ?', model)
  return Number(row.n) // PostgreSQL's count is a bigint, which arrives as text
}

/** How many records a filter matches (export's progress bar). */
export function* countMatching(q: InferenceFilter): Operation<number> {
  const { params, p } = parameters()
  const [row] = yield sql(`SELECT count(*) AS n ${FROM} WHERE ${whereClause(q, p).join(' AND ')}`, ...params)
  return Number(row.n)
}

/** The records' reads the store worker runs by name (the inference log's query API and counts). */
export const RECORD_OPERATIONS = namedOperations('records', { query: reads(queryInferences), count: reads(countInferences) })

/** A row of queryInferences as the API gives it; JSON columns arrive as text (SQLite) or parsed (PostgreSQL). */
function toInferenceRecord(row: Record<string, unknown>): InferenceRecord {
  const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v ?? null)
  const iso = (v: unknown): string => new Date(Number(v)).toISOString()
  return {
    record_id: String(row.record_id),
    inference_id: String(row.inference_id),
    timestamp: iso(row.ts),
    server_timestamp: iso(row.server_ts),
    model: String(row.model),
    version: String(row.version),
    route: (row.route as string | null) ?? null,
    reason: (row.reason as string | null) ?? null,
    role: row.role as InferenceRole,
    sticky_hash: (row.sticky_hash as string | null) ?? null,
    inputs: json(row.inputs),
    outputs: json(row.outputs),
    latency_ms: Number(row.latency_ms),
    status: Number(row.status),
    error_code: (row.error_code as string | null) ?? null,
    revision: row.revision === null || row.revision === undefined ? null : Number(row.revision),
    attributes: json(row.attributes),
    ground_truth: row.gt_ts === null || row.gt_ts === undefined
      ? null
      : { label: (row.gt_label as string | null) ?? null, value: row.gt_value === null ? null : Number(row.gt_value), timestamp: iso(row.gt_ts) },
  }
}

