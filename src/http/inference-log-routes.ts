/**
 * The inference log on the control plane:
 *
 *   POST /v1/models/{model}/inferences     [{"inference_id", "version"?, "timestamp"?, "inputs", "outputs" | "prediction", "attributes"?}, ...]
 *                                          ?version= for the items that name none (sent-in-items.ts)
 *   POST /v1/models/{model}/ground-truth   [{"inference_id", "label" | "value", "timestamp"?}, ...]
 *   GET  /v1/models/{model}/inferences     ?version=&role=&since=&until=&has_ground_truth=&limit=&order=&cursor=
 *
 * Nothing here changes or deletes an inference record: ground truth is kept beside them, and an
 * inference sent again is found by its id and not stored twice.
 */
import express from 'express'
import type { Router } from 'express'
import type { Guard } from '../auth/guard.js'
import { gatewayError } from '../errors.js'
import { INFERENCE_ROLES } from '../store/records.js'
import type { GroundTruthItem, InferenceQuery, InferenceRole } from '../store/records.js'
import { isValidInferenceId } from '../inference-id.js'
import type { InferenceLog } from '../inference-log/inference-log.js'
import type { SentInVersions } from '../inference-log/sent-in-versions.js'
import type { ModelPool } from '../runtime/model-pool.js'
import { parseTimestamp } from '../timestamp.js'
import { queryReader } from './query-params.js'
import { parseSentInBody } from './sent-in-items.js'

export const MAX_GROUND_TRUTH_ITEMS = 50_000
const MAX_GROUND_TRUTH_BYTES = '16mb'
const MAX_SENT_IN_BYTES = '8mb' // 10,000 records of 22 features take about 7 MB; switchyard upload sends 1,000
export const DEFAULT_PAGE = 100
export const MAX_PAGE = 1_000

export function inferenceLogRouter(pool: ModelPool, inferenceLog: InferenceLog, sentInVersions: SentInVersions, guard: Guard): Router {
  const router = express.Router()

  // partial acceptance: the good items are stored, each bad one is answered (docs/inference-log.md)
  router.post('/v1/models/:model/inferences', guard.require('send-inferences'), express.json({ limit: MAX_SENT_IN_BYTES, type: () => true }), async (req, res) => {
    const model = pool.getModel(req.params.model as string).name
    const { text } = queryReader(req.query as Record<string, unknown>)
    const { items, rejected } = parseSentInBody(req.body, text('version'), Date.now())
    const outcome = items.length === 0 ? { accepted: 0, duplicate: 0 } : await inferenceLog.sendIn(model, items)
    sentInVersions.note(model, items.map((i) => i.version))
    res.json({ model, received: items.length + rejected.length, ...outcome, rejected: rejected.length, errors: rejected })
  })

  router.post('/v1/models/:model/ground-truth', guard.require('ground-truth'), express.json({ limit: MAX_GROUND_TRUTH_BYTES, type: () => true }), async (req, res) => {
    const model = pool.getModel(req.params.model as string).name
    const items = parseGroundTruth(req.body)
    const outcome = await inferenceLog.groundTruth(model, items)
    res.json({ model, received: items.length, ...outcome })
  })

  router.get('/v1/models/:model/inferences', guard.require('read'), async (req, res) => {
    const model = pool.getModel(req.params.model as string).name
    const query = parseInferenceQuery(model, req.query as Record<string, unknown>)
    const page = await inferenceLog.query(query)
    const last = page[page.length - 1]
    const next = page.length === query.limit && last !== undefined ? encodeCursor(Date.parse(last.timestamp), last.record_id) : null
    res.json({ model, inferences: page, next_cursor: next })
  })

  return router
}

export function parseGroundTruth(body: unknown): GroundTruthItem[] {
  if (!Array.isArray(body)) throw gatewayError('GROUND_TRUTH_INVALID', 'must be a JSON array')
  if (body.length === 0) throw gatewayError('GROUND_TRUTH_INVALID', 'is an empty array')
  if (body.length > MAX_GROUND_TRUTH_ITEMS) throw gatewayError('GROUND_TRUTH_INVALID', `has ${body.length} items, more than ${MAX_GROUND_TRUTH_ITEMS} a call; split it`)
  const now = Date.now()
  return body.map((item: unknown, i): GroundTruthItem => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw gatewayError('GROUND_TRUTH_INVALID', `[${i}] is not an object`)
    const { inference_id: id, label, value, timestamp, ...rest } = item as Record<string, unknown>
    const extra = Object.keys(rest)[0]
    if (extra !== undefined) throw gatewayError('GROUND_TRUTH_INVALID', `[${i}] has the unknown field '${extra.slice(0, 64)}'`)
    if (!isValidInferenceId(id)) throw gatewayError('GROUND_TRUTH_INVALID', `[${i}].inference_id is missing or not an id (1 to 128 printable characters, or an integer)`)
    if (label === undefined && value === undefined) throw gatewayError('GROUND_TRUTH_INVALID', `[${i}] has neither 'label' nor 'value'`)
    if (label !== undefined && typeof label !== 'string' && typeof label !== 'boolean' && !(typeof label === 'number' && Number.isFinite(label))) {
      throw gatewayError('GROUND_TRUTH_INVALID', `[${i}].label must be a string, a number or a boolean`)
    }
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value))) throw gatewayError('GROUND_TRUTH_INVALID', `[${i}].value must be a finite number`)
    return {
      inference_id: String(id),
      label: label === undefined ? null : String(label),
      value: value === undefined ? null : (value as number),
      ts: timestamp === undefined ? now : parseTimestamp(timestamp, `ground truth [${i}].timestamp`),
    }
  })
}

export function parseInferenceQuery(model: string, q: Record<string, unknown>): InferenceQuery {
  const { text, time } = queryReader(q)
  const role = text('role')
  if (role !== undefined && !INFERENCE_ROLES.includes(role as InferenceRole)) throw gatewayError('QUERY_INVALID', 'role', `must be one of ${INFERENCE_ROLES.join(', ')}`)
  const gt = text('has_ground_truth')
  if (gt !== undefined && gt !== 'true' && gt !== 'false') throw gatewayError('QUERY_INVALID', 'has_ground_truth', 'must be true or false')
  const limitText = text('limit')
  const limit = limitText === undefined ? DEFAULT_PAGE : Number(limitText)
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) throw gatewayError('QUERY_INVALID', 'limit', `must be an integer from 1 to ${MAX_PAGE}`)
  const order = text('order') ?? 'asc'
  if (order !== 'asc' && order !== 'desc') throw gatewayError('QUERY_INVALID', 'order', 'must be asc or desc')
  const cursor = text('cursor')
  return {
    model,
    version: text('version'),
    role: role as InferenceRole | undefined,
    since: time('since'),
    until: time('until'),
    hasGroundTruth: gt === undefined ? undefined : gt === 'true',
    limit,
    order,
    after: cursor === undefined ? undefined : decodeCursor(cursor),
  }
}

/** A page ends at a (ts, record_id); the next starts after it. Opaque to callers. */
export function encodeCursor(ts: number, recordId: string): string {
  return Buffer.from(JSON.stringify([ts, recordId])).toString('base64url')
}

function decodeCursor(cursor: string): { ts: number; recordId: string } {
  try {
    const [ts, recordId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[]
    if (Number.isSafeInteger(ts) && typeof recordId === 'string') return { ts: ts as number, recordId }
  } catch {
    // falls through to the error below
  }
  throw gatewayError('QUERY_INVALID', 'cursor', 'is not a cursor this API gave; pass next_cursor from the previous page as it is')
}
