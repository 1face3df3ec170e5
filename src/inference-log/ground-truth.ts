/**
 * Joining ground truth (a store operation, store/operation.ts): ids with at least one inference
 * record of the model are upserted, the later item winning for an id sent twice; the others
 * are reported back and not stored. Records themselves are never touched; the rollups of their
 * minutes (store/rollups.ts) change in the same transaction: what a truth replaced had added
 * is taken out, and the new truth's part added.
 */
import { namedOperations, sql, writes } from '../store/operation.js'
import type { Operation } from '../store/operation.js'
import type { GroundTruthItem, GroundTruthOutcome } from '../store/records.js'
import { groundTruthRollups } from '../store/rollups.js'

const CHUNK = 500 // ids an IN (...) list, items a multi-row INSERT (6 parameters each)

export function* addGroundTruth(model: string, items: readonly GroundTruthItem[]): Operation<GroundTruthOutcome> {
  const ids = [...new Set(items.map((i) => i.inference_id))]
  const counts = new Map<string, number>()
  for (let k = 0; k < ids.length; k += CHUNK) {
    const chunk = ids.slice(k, k + CHUNK)
    const found = yield sql(`SELECT inference_id, count(*) AS n FROM inferences WHERE model = ? AND inference_id IN (${chunk.map(() => '?').join(', ')}) GROUP BY inference_id`, model, ...chunk)
    for (const f of found) counts.set(String(f.inference_id), Number(f.n))
  }
  const known = [...new Map(items.map((i) => [i.inference_id, i])).values()].filter((i) => counts.has(i.inference_id))
  const now = Date.now()
  for (let k = 0; k < known.length; k += CHUNK) {
    const chunk = known.slice(k, k + CHUNK)
    const chunkIds = chunk.map((i) => i.inference_id)
    yield* groundTruthRollups(model, chunkIds, -1)
    yield sql(`INSERT INTO ground_truth (model, inference_id, label, value, ts, received_at) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}
      ON CONFLICT (model, inference_id) DO UPDATE SET label = excluded.label, value = excluded.value, ts = excluded.ts, received_at = excluded.received_at`,
    ...chunk.flatMap((i) => [model, i.inference_id, i.label, i.value, i.ts, now]))
    yield* groundTruthRollups(model, chunkIds, 1)
  }
  let records = 0
  for (const n of counts.values()) records += n
  return { joined: counts.size, records, unknown_ids: ids.filter((id) => !counts.has(id)) }
}

export const GROUND_TRUTH_OPERATIONS = namedOperations('groundTruth', { add: writes(addGroundTruth) })
