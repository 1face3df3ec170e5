/**
 * GET /v1/models/{model}/compare?since=&until=&a=&b=&metric=
 *
 * Every version of the model in every role over the window (default: all records), with the
 * weights routes.yaml gives now; `a` and `b` (e.g. `v1`, `v2:challenger`) ask whether their
 * difference in `metric` (accuracy, auc, log_loss, mae) is significant.
 */
import express from 'express'
import type { Router } from 'express'
import { buildComparison, METRICS } from '../compare/compare.js'
import type { Metric, Task } from '../compare/compare.js'
import { gatewayError } from '../errors.js'
import type { InferenceLog } from '../inference-log/inference-log.js'
import type { RoutesHolder } from '../router/routes-holder.js'
import type { ModelPool } from '../runtime/model-pool.js'
import { parseTimestamp } from './caller-meta.js'

const TASKS: readonly string[] = ['binary-classification', 'multiclass-classification', 'regression']

export function compareRouter(pool: ModelPool, routes: RoutesHolder, inferenceLog: InferenceLog): Router {
  const router = express.Router()
  router.get('/v1/models/:model/compare', async (req, res) => {
    const model = pool.getModel(req.params.model as string)
    const q = req.query as Record<string, unknown>
    const text = (name: string): string | undefined => {
      const v = q[name]
      if (v !== undefined && typeof v !== 'string') throw gatewayError('QUERY_INVALID', name, 'is given more than once')
      return v
    }
    const time = (name: string): number | undefined => {
      const v = text(name)
      if (v === undefined) return undefined
      try {
        return parseTimestamp(v, name)
      } catch {
        throw gatewayError('QUERY_INVALID', name, 'must be an ISO 8601 time or milliseconds since the epoch')
      }
    }
    const metric = text('metric')
    if (metric !== undefined && !METRICS.includes(metric as Metric)) throw gatewayError('QUERY_INVALID', 'metric', `must be one of ${METRICS.join(', ')}`)
    const a = text('a')
    const b = text('b')
    if ((a === undefined) !== (b === undefined)) throw gatewayError('QUERY_INVALID', a === undefined ? 'a' : 'b', 'comes in a pair: give both a and b, e.g. a=v1&b=v2')
    const since = time('since')
    const until = time('until')
    const raw = await inferenceLog.compareRaw({ model: model.name, since, until })
    const weights = routes.current.routes.get(model.name)?.weightsNow() ?? new Map<string, number>()
    const task = model.metadata?.task
    const report = buildComparison(raw, {
      task: task !== undefined && TASKS.includes(task) ? (task as Task) : null,
      weights,
      pair: a !== undefined && b !== undefined ? [a, b] : null,
      metric: (metric as Metric | undefined) ?? null,
    })
    res.json({
      model: model.name,
      window: { since: since === undefined ? null : new Date(since).toISOString(), until: until === undefined ? null : new Date(until).toISOString() },
      revision: routes.current.revision.number,
      ...report,
    })
  })
  return router
}
