/**
 * The lifecycle on the control plane: versions by stage, stage requests and their two-person
 * approval, locks, and the activity log. Every endpoint needs a token (auth/guard.ts).
 *
 *   GET  /v1/models/{model}/versions?stage=&label=                      read (those served elsewhere too: catalog.ts)
 *   POST /v1/models/{model}/versions/{version}/stage-requests           request   {"stage", "comment"?}
 *   GET  /v1/stage-requests?model=&status=  /v1/models/{model}/stage-requests   read (status defaults to pending)
 *   POST /v1/stage-requests/{id}/approve | reject                       approve   {"comment"?}
 *   POST /v1/stage-requests/{id}/cancel                                 request   (the requester only)
 *   POST /v1/models/{model}/versions/{version}/lock | unlock            lock      {"comment"?}
 *   GET  /v1/activity?model=&since=&limit=                              read
 */
import express from 'express'
import type { Router } from 'express'
import type { Guard } from '../auth/guard.js'
import type { Identity } from '../auth/tokens.js'
import { gatewayError } from '../errors.js'
import type { SentInVersions } from '../inference-log/sent-in-versions.js'
import type { Lifecycle } from '../lifecycle/lifecycle.js'
import { parseStage, STAGES } from '../lifecycle/stages.js'
import type { ModelPool } from '../runtime/model-pool.js'
import { describeElsewhereVersion, describeVersionWithStage, servedElsewhere } from './catalog.js'
import { queryReader } from './query-params.js'

export const STATUSES = ['pending', 'approved', 'rejected', 'cancelled', 'all']
export const MAX_COMMENT = 2_000 // characters
export const DEFAULT_ACTIVITY = 200
export const MAX_ACTIVITY = 1_000

export function lifecycleRouter(pool: ModelPool, lifecycle: Lifecycle, sentInVersions: SentInVersions, guard: Guard): Router {
  const router = express.Router()
  const body = express.json({ limit: '16kb', type: () => true })
  const who = (res: express.Response): string => (res.locals.identity as Identity).name
  const needStore = () => {
    if (!lifecycle.available) throw gatewayError('INFERENCE_LOG_DISABLED')
  }

  router.get('/v1/models/:model/versions', guard.require('read'), (req, res) => {
    const model = pool.getModel(req.params.model as string)
    const { text } = queryReader(req.query as Record<string, unknown>)
    const stageText = text('stage')
    const stage = stageText === undefined ? undefined : parseStage(stageText)
    if (stage === null) throw gatewayError('STAGE_INVALID', String(stageText), STAGES)
    const label = text('label')
    const versions = [
      ...[...model.versions.values()].map((v) => describeVersionWithStage(v, lifecycle.stages)),
      ...servedElsewhere(model, sentInVersions.of(model.name)).map((v) => describeElsewhereVersion(model.name, v, lifecycle.stages)),
    ]
    res.json({
      model: model.name,
      versions: versions.filter((v) => (stage === undefined || v.stage === stage) && (label === undefined || v.label === label)),
    })
  })

  router.post('/v1/models/:model/versions/:version/stage-requests', guard.require('request'), body, async (req, res) => {
    needStore()
    const model = pool.getModel(req.params.model as string).name
    const version = pool.getVersion(model, req.params.version as string).version
    const { stage: stageText, comment } = readBody(req.body, ['stage', 'comment'])
    const stage = parseStage(stageText)
    if (stage === null) throw gatewayError('STAGE_INVALID', String(stageText ?? '(none)'), STAGES)
    const request = await lifecycle.request(model, version, stage, who(res), commentOf(comment))
    res.status(201).json({ request, flagged: request.skipped.length > 0 ? `skips ${request.skipped.join(', ')} on the usual order` : null })
  })

  const listRequests = (modelParam: boolean) => async (req: express.Request, res: express.Response) => {
    needStore()
    const { text } = queryReader(req.query as Record<string, unknown>)
    const status = text('status') ?? 'pending'
    if (!STATUSES.includes(status)) throw gatewayError('QUERY_INVALID', 'status', `must be one of ${STATUSES.join(', ')}`)
    const model = modelParam ? pool.getModel(req.params.model as string).name : text('model')
    res.json({ requests: await lifecycle.list({ model, status: status === 'all' ? undefined : status }) })
  }
  router.get('/v1/stage-requests', guard.require('read'), listRequests(false))
  router.get('/v1/models/:model/stage-requests', guard.require('read'), listRequests(true))

  for (const action of ['approve', 'reject', 'cancel'] as const) {
    router.post(`/v1/stage-requests/:id/${action}`, guard.require(action === 'cancel' ? 'request' : 'approve'), body, async (req, res) => {
      needStore()
      const { comment } = readBody(req.body, ['comment'])
      res.json({ request: await lifecycle.decide(String(req.params.id).slice(0, 64), action, who(res), commentOf(comment)) })
    })
  }

  for (const action of ['lock', 'unlock'] as const) {
    router.post(`/v1/models/:model/versions/:version/${action}`, guard.require('lock'), body, async (req, res) => {
      needStore()
      const model = pool.getModel(req.params.model as string).name
      const version = pool.getVersion(model, req.params.version as string).version
      const { comment } = readBody(req.body, ['comment'])
      res.json({ version: await lifecycle.setLock(model, version, action === 'lock', who(res), commentOf(comment)) })
    })
  }

  router.get('/v1/activity', guard.require('read'), async (req, res) => {
    needStore()
    const { text, time } = queryReader(req.query as Record<string, unknown>)
    const limitText = text('limit')
    const limit = limitText === undefined ? DEFAULT_ACTIVITY : Number(limitText)
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_ACTIVITY) throw gatewayError('QUERY_INVALID', 'limit', `must be an integer from 1 to ${MAX_ACTIVITY}`)
    res.json({ activity: await lifecycle.activity({ model: text('model'), since: time('since'), limit }) })
  })

  return router
}

/** An optional JSON object body with only the named fields. */
function readBody(value: unknown, fields: readonly string[]): Record<string, unknown> {
  if (value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0)) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw gatewayError('BODY_INVALID', `send a JSON object with ${fields.join(', ')}`)
  const extra = Object.keys(value).find((k) => !fields.includes(k))
  if (extra !== undefined) throw gatewayError('BODY_INVALID', `unknown field '${extra.slice(0, 64)}'; the fields are ${fields.join(', ')}`)
  return value as Record<string, unknown>
}

function commentOf(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string' || value.length > MAX_COMMENT) throw gatewayError('BODY_INVALID', `'comment' must be a string of at most ${MAX_COMMENT} characters`)
  return value
}
