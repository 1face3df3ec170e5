/**
 * Inferences sent in (POST /v1/models/{model}/inferences): made by a batch job or another
 * server, recorded as the gateway's own are, with the role `external`. On the store worker:
 *
 *   request thread: items checked (http/sent-in-items.ts)  ──task 'sentIn.add'──▶  store worker:
 *     rows made, the model's privacy rules applied; one transaction notes the versions and
 *     finds the record ids already stored; the others go to the records' writer (delivery.ts),
 *     and the answer waits until they are in the store (or spilled, while it is down)
 *
 * A record's id is made from (model, version, inference id) (inference-id.ts sentInRecordId),
 * so an item sent again is found and not stored twice: a re-sent file is skipped, item by item.
 */
import { sentInRecordId } from '../inference-id.js'
import { namedOperations, reads, sql, writes } from '../store/operation.js'
import type { NamedOperation, Operation } from '../store/operation.js'
import type { TaskName } from '../store/calls.js'
import type { StoredInference } from '../store/records.js'
import type { Store } from '../store/store.js'
import { namedLabel, namedScore, tensorLabel, tensorScore } from './expand.js'
import { applyToFields, applyToTensors } from './privacy.js'
import type { PrivacyRules } from './privacy.js'

/** One item, checked on the request thread. */
export interface SentInItem {
  /** Its place in the body, for the answer. */
  readonly index: number
  readonly inference_id: string
  readonly version: string
  /** The caller's timestamp, else the time it was received; ms since the epoch. */
  readonly ts: number
  /** Named values, or Open Inference Protocol tensors. */
  readonly inputs: Record<string, unknown> | Record<string, unknown>[]
  readonly outputs: Record<string, unknown> | Record<string, unknown>[]
  /** JSON object text, or null. */
  readonly attributes: string | null
}

export interface SentInOutcome {
  /** Items stored now. */
  readonly accepted: number
  /** Items whose record was stored already (sent before, or twice in this call): nothing stored. */
  readonly duplicate: number
}

/** The store worker's task (store-worker.ts): sentIn.add(model, items). */
export const SENT_IN_TASK: TaskName<[string, SentInItem[]], SentInOutcome> = { name: 'sentIn.add' }

const CHUNK = 500 // ids an IN (...) list

/** Notes the versions as sent in, and gives the record ids among `recordIds` that are stored already. */
export function* prepareSentIn(model: string, versions: readonly string[], recordIds: readonly string[], now: number): Operation<string[]> {
  for (const version of versions) {
    yield sql(`INSERT INTO sent_in_versions (model, version, first_at, last_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (model, version) DO UPDATE SET last_at = excluded.last_at`, model, version, now, now)
  }
  const stored: string[] = []
  for (let k = 0; k < recordIds.length; k += CHUNK) {
    const chunk = recordIds.slice(k, k + CHUNK)
    const rows = yield sql(`SELECT record_id FROM inferences WHERE record_id IN (${chunk.map(() => '?').join(', ')})`, ...chunk)
    for (const r of rows) stored.push(String(r.record_id))
  }
  return stored
}

/** Every (model, version) that has records sent in. */
export function* sentInVersions(): Operation<{ model: string; version: string }[]> {
  const rows = yield sql('SELECT model, version FROM sent_in_versions ORDER BY model, version')
  return rows.map((r) => ({ model: String(r.model), version: String(r.version) }))
}

export const SENT_IN_OPERATIONS = namedOperations('sentIn', { prepare: writes(prepareSentIn), versions: reads(sentInVersions) })

export interface SentInContext {
  readonly privacy: PrivacyRules | undefined
  readonly hashKey: string | null
}

/** The rows the store keeps of the items, as the served ones: privacy applied, predicted class and score read from the outputs. */
export function sentInRows(model: string, items: readonly SentInItem[], ctx: SentInContext, receivedAt: number): StoredInference[] {
  return items.map((item) => {
    const inputs = ctx.privacy === undefined ? item.inputs
      : Array.isArray(item.inputs) ? applyToTensors(item.inputs, ctx.privacy, ctx.hashKey) : applyToFields(item.inputs, ctx.privacy, ctx.hashKey)
    const outputs = item.outputs
    return {
      record_id: sentInRecordId(model, item.version, item.inference_id),
      inference_id: item.inference_id,
      ts: item.ts,
      server_ts: receivedAt,
      model,
      version: item.version,
      route: null,
      reason: null,
      role: 'external',
      sticky_hash: null,
      inputs: JSON.stringify(inputs),
      outputs: JSON.stringify(outputs),
      latency_ms: 0, // not known here: the comparison shows none for sent-in records
      status: 200,
      error_code: null,
      revision: null,
      attributes: item.attributes,
      predicted_label: Array.isArray(outputs) ? tensorLabel(outputs) : namedLabel(outputs),
      score: Array.isArray(outputs) ? tensorScore(outputs) : namedScore(outputs),
    }
  })
}

export interface SentInWriter {
  /** The store, once every record received before is in it (throws when it is down). */
  readonly caughtUp: () => Promise<Store>
  /** Hand rows to the records' writer; resolves once they are in the store or spilled. */
  readonly deliver: (rows: StoredInference[]) => Promise<void>
  readonly context: (model: string) => SentInContext
}

/** The task: the items' records, those not stored yet through the writer; says how many were new. */
export async function addSentIn(writer: SentInWriter, model: string, items: readonly SentInItem[]): Promise<SentInOutcome> {
  const store = await writer.caughtUp()
  const now = Date.now()
  const unique = new Map<string, StoredInference>()
  for (const row of sentInRows(model, items, writer.context(model), now)) if (!unique.has(row.record_id)) unique.set(row.record_id, row)
  const prepare: NamedOperation<Parameters<typeof prepareSentIn>, string[]> = SENT_IN_OPERATIONS.prepare
  const stored = new Set(await store.run(prepare.start(model, [...new Set(items.map((i) => i.version))], [...unique.keys()], now), prepare.mode))
  const fresh = [...unique.values()].filter((r) => !stored.has(r.record_id))
  await writer.deliver(fresh)
  return { accepted: fresh.length, duplicate: items.length - fresh.length }
}
