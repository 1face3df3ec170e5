/** /admin/routes: the route table in force, routes.yaml beside it, the history, the last rejection; reload and rollback. */
import express from 'express'
import type { Router } from 'express'
import { gatewayError, gatewayErrorWith } from '../errors.js'
import type { Guard } from '../auth/guard.js'
import type { Identity } from '../auth/tokens.js'
import type { Lifecycle } from '../lifecycle/lifecycle.js'
import type { Mirrors } from '../mirrors/mirrors.js'
import type { ReloadOutcome, RoutesHolder } from '../router/routes-holder.js'
import type { ModelPool } from '../runtime/model-pool.js'

export function adminRoutesRouter(routes: RoutesHolder, mirrors: Mirrors, pool: ModelPool, lifecycle: Lifecycle, guard: Guard): Router {
  const router = express.Router()

  router.post('/admin/models/rescan', guard.require('reload'), async (_req, res) => {
    const outcome = await pool.rescan()
    res.json({ ...outcome, route_problems: routes.recheck() })
  })

  router.get('/admin/routes', guard.require('read'), async (_req, res) => {
    const table = routes.current
    // null where the store does not answer now: the table served here is still shown
    const [history, inForce] = await Promise.all([routes.history().catch(() => null), routes.revisionInForce().catch(() => null)])
    const file = await routes.fileState(inForce)
    res.json({
      path: routes.path,
      // the revision this replica serves; revision_in_force is the store's, which it serves too unless last_rejection says why not
      revision: table.revision,
      revision_in_force: inForce,
      revisions_kept_in: routes.isStored ? 'store' : 'memory',
      file: { sha256: file.sha256, differs_from_revision_in_force: file.differsFromRevisionInForce },
      source: table.source,
      routes: Object.fromEntries([...table.routes].map(([model, route]) => [model, {
        config: route.config,
        labels: Object.fromEntries(route.labels),
        canary: route.canary?.describe() ?? null,
      }])),
      mirrors: mirrors.stats().map(({ model, version, role, stat }) => ({ model, version, role, ...stat.describe() })),
      last_rejection: routes.lastRejection,
      route_problems: routes.recheck(),
      removed_from_disk_still_routed: pool.removedButRouted(),
      history,
    })
  })

  router.post('/admin/routes/reload', guard.require('reload'), async (_req, res) => {
    const actor = (res.locals.identity as Identity).name
    respond(res, await routes.reload(`POST /admin/routes/reload by ${actor}`, actor))
  })

  router.post('/admin/routes/rollback', guard.require('rollback'), express.json({ limit: '16kb' }), async (req, res) => {
    const revision = (req.body as { revision?: unknown } | undefined)?.revision
    if (!Number.isSafeInteger(revision)) throw gatewayError('BODY_INVALID', 'send {"revision": N}, a revision number from GET /admin/routes')
    const actor = (res.locals.identity as Identity).name
    const outcome = await routes.rollback(revision as number, actor)
    lifecycle.record({ actor, kind: 'routes-rollback', detail: { to: revision, result: outcome.kind } })
    respond(res, outcome)
  })

  return router
}

function respond(res: express.Response, outcome: ReloadOutcome): void {
  if (outcome.kind === 'rejected') {
    const { rejection } = outcome
    throw gatewayErrorWith('ROUTES_INVALID', { details: { problems: rejection.problems } }, 'routes.yaml', rejection.problems.length)
  }
  res.json({ result: outcome.kind, revision: outcome.revision })
}
