/**
 * GET /v1/models/{model}/compare?since=&until=&a=&b=&metric=
 * GET /v1/models/{model}/timeseries?since=&until=&bucket_seconds=   (the dashboard's charts over time)
 *
 * Every version of the model in every role over the window (default: all records), with the
 * weights routes.yaml gives now; `a` and `b` (e.g. `v1`, `v2:challenger`) ask whether their
 * difference in `metric` (accuracy, auc, log_loss, mae) is significant.
 */
import express from 'express'
import type { Router } from 'express'
import type { Guard } from '../auth/guard.js'
import { buildComparison, METRICS } from '../compare/compare.js'
import type { Metric, Task } from '../compare/compare.js'
import { COMPARE_OPERATIONS } from '../compare/registry.js'
import { gatewayError } from '../errors.js'
import type { RoutesHolder } from '../router/routes-holder.js'
import type { ModelPool } from '../runtime/model-pool.js'
import type { StoreCalls } from '../store/store-client.js'
import { queryReader } from './query-params.js'

const TASKS: readonly string[] = ['binary-classification', 'multiclass-classification', 'regression']
const DEFAULT_WINDOW_MS = 3_600_000 // timeseries: the last hour
const DEFAULT_POINTS = 60
const MAX_POINTS = 2_000

export function compareRouter(pool: ModelPool, routes: RoutesHolder, store: StoreCalls, guard: Guard): Router {
  const router = express.Router()
  router.get('/v1/models/:model/compare', guard.require('read'), async (req, res) => {
    const model = pool.getModel(req.params.model as string)
    const { text, time } = queryReader(req.query as Record<string, unknown>)
    const metric = text('metric')
    if (metric !== undefined && !METRICS.includes(metric as Metric)) throw gatewayError('QUERY_INVALID', 'metric', `must be one of ${METRICS.join(', ')}`)
    const a = text('a')
    const b = text('b')
    if ((a === undefined) !== (b === undefined)) throw gatewayError('QUERY_INVALID', a === undefined ? 'a' : 'b', 'comes in a pair: give both a and b, e.g. a=v1&b=v2')
    const since = time('since')
    const until = time('until')
    const raw = await store.run(COMPARE_OPERATIONS.aggregates, { model: model.name, since, until })
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
  router.get('/v1/models/:model/timeseries', guard.require('read'), async (req, res) => {
    const model = pool.getModel(req.params.model as string)
    const { text, time } = queryReader(req.query as Record<string, unknown>)
    const until = time('until') ?? Date.now()
    const since = time('since') ?? until - DEFAULT_WINDOW_MS
    if (since >= until) throw gatewayError('QUERY_INVALID', 'since', 'must be before until')
    const bucketText = text('bucket_seconds')
    const bucketMs = bucketText === undefined ? Math.max(1_000, Math.ceil((until - since) / DEFAULT_POINTS / 1_000) * 1_000) : Number(bucketText) * 1_000
    if (!Number.isFinite(bucketMs) || bucketMs < 1_000 || (until - since) / bucketMs > MAX_POINTS) {
      throw gatewayError('QUERY_INVALID', 'bucket_seconds', `must be a whole number of seconds giving at most ${MAX_POINTS} points over the window`)
    }
    const rows = await store.run(COMPARE_OPERATIONS.timeseries, { model: model.name, since, until }, bucketMs)
    res.json({ model: model.name, since: new Date(since).toISOString(), until: new Date(until).toISOString(), bucket_seconds: bucketMs / 1_000, points: rows })
  })

  return router
}
