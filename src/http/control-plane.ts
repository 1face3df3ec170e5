/**
 * The control plane on Express: everything that is not the data plane's fast path.
 * Errors go through the same catalogue and the same mapping as on the data plane.
 */
import { fileURLToPath } from 'node:url'
import express from 'express'
import type { NextFunction, Request, Response } from 'express'
import { gatewayError, isGatewayError } from '../errors.js'
import type { SwitchyardError } from '../errors.js'
import type { Guard } from '../auth/guard.js'
import type { InferenceLog } from '../inference-log/inference-log.js'
import type { SentInVersions } from '../inference-log/sent-in-versions.js'
import type { Lifecycle } from '../lifecycle/lifecycle.js'
import type { Logger } from '../log.js'
import { isValidName } from '../registry/names.js'
import type { GatewayMetrics } from '../metrics/metrics.js'
import type { Mirrors } from '../mirrors/mirrors.js'
import type { RoutesHolder } from '../router/routes-holder.js'
import type { ModelPool } from '../runtime/model-pool.js'
import { adminRoutesRouter } from './admin-routes.js'
import { compareRouter } from './compare-routes.js'
import { dashboardRouter } from './dashboard-routes.js'
import { driftRouter } from './drift-routes.js'
import { inferenceLogRouter } from './inference-log-routes.js'
import { lifecycleRouter } from './lifecycle-routes.js'
import { repositoryRouter } from './repository-routes.js'
import { describeModel, describeModelSummary } from './catalog.js'
import { pathOf } from './data-plane.js'
import { openApiDocument } from './openapi.js'
import { sendError } from './respond.js'
import { SERVER_INFO } from '../version.js'

const DOCS_DIR = fileURLToPath(new URL('../../docs/', import.meta.url)) // the same from src/http and dist/http
const README = fileURLToPath(new URL('../../README.md', import.meta.url))

export interface ControlPlaneParts {
  readonly pool: ModelPool
  /** The model repository's folder (the repository extension lists the models not loaded yet). */
  readonly modelsDir: string
  readonly routes: RoutesHolder
  readonly mirrors: Mirrors
  readonly metrics: GatewayMetrics
  readonly inferenceLog: InferenceLog
  /** Versions with inferences sent in: those served elsewhere are listed in the catalog too. */
  readonly sentInVersions: SentInVersions
  readonly lifecycle: Lifecycle
  readonly guard: Guard
  readonly log: Logger
}

/**
 * Open: /metrics (Prometheus scrapes without a token) and the dashboard's static files (its
 * data calls need a token). Everything else needs one with the right role (auth/guard.ts).
 */
export function createControlPlane({ pool, modelsDir, routes, mirrors, metrics, inferenceLog, sentInVersions, lifecycle, guard, log }: ControlPlaneParts): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)
  app.use(adminRoutesRouter(routes, mirrors, pool, lifecycle, guard))
  app.use(inferenceLogRouter(pool, inferenceLog, sentInVersions, guard))
  app.use(compareRouter(pool, routes, inferenceLog.store, guard))
  app.use(driftRouter(pool, inferenceLog.store, guard))
  app.use(lifecycleRouter(pool, lifecycle, sentInVersions, guard))
  app.use(repositoryRouter(pool, modelsDir, lifecycle, guard))
  app.use(dashboardRouter(guard.enabled))

  // where a newcomer who opens the address in a browser or with curl finds everything else
  app.get('/', (_req, res) => {
    res.json({
      name: SERVER_INFO.name,
      version: SERVER_INFO.version,
      links: {
        inference: '/v2', health: '/v2/health/ready', models: '/v1/models', routes: '/admin/routes',
        dashboard: '/dashboard', metrics: '/metrics', docs: '/docs/', openapi: '/openapi.json',
      },
    })
  })
  const openApi = openApiDocument(SERVER_INFO)
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi)
  })
  app.get('/docs/', (_req, res) => res.type('text/markdown').sendFile(README))
  app.use('/docs', express.static(DOCS_DIR, { index: false, extensions: ['md'], setHeaders: (res, path) => path.endsWith('.md') && res.type('text/markdown') }))

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.exposition())
  })

  app.get('/v1/models', guard.require('read'), (_req, res) => {
    res.json({ models: pool.models().map((m) => ({ ...describeModelSummary(m, lifecycle.stages, sentInVersions.of(m.name)), stages: lifecycle.stages.countsFor(m.name) })) })
  })

  app.get('/v1/models/:model', guard.require('read'), (req, res) => {
    const name = req.params.model as string
    if (!isValidName(name)) throw gatewayError('NAME_INVALID', 'model', name.slice(0, 64))
    res.json(describeModel(pool.getModel(name), lifecycle.stages, sentInVersions.of(name)))
  })

  app.use((req, _res, next) => next(gatewayError('ROUTE_NOT_FOUND', req.method, req.path)))

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const mapped = isGatewayError(err) ? err : fromExpressError(err, req)
    sendError(res, mapped, log, { method: req.method, path: pathOf(req.originalUrl) })
  })
  return app
}

/** Express's own errors (a malformed URI, a body-parser failure) carry a status but no catalogue code. */
function fromExpressError(err: unknown, req: Request): unknown {
  const e = err as { status?: number; type?: string; message?: string }
  // the control plane's limits are its own, one an endpoint: --max-body-bytes is the data plane's
  if (e.type === 'entity.too.large') return gatewayError('BODY_TOO_LARGE', Number((err as { limit?: number }).limit ?? 0), 'this endpoint takes no more: send less, or split a list into several requests')
  if (e.type === 'entity.parse.failed') return gatewayError('BODY_MALFORMED_JSON', String(e.message))
  if (e.status === 415) return gatewayError('BODY_UNSUPPORTED_MEDIA_TYPE', String(req.headers['content-type'] ?? '(none)'))
  if (e.status === 404) return gatewayError('ROUTE_NOT_FOUND', req.method, req.path) satisfies SwitchyardError
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return gatewayError('BODY_INVALID', String(e.message ?? 'the request could not be read'))
  return err
}
