/**
 * The control plane on Express: everything that is not the data plane's fast path.
 * Errors go through the same catalogue and the same mapping as on the data plane.
 */
import express from 'express'
import type { NextFunction, Request, Response } from 'express'
import { gatewayError } from '../errors.js'
import type { Logger } from '../log.js'
import { isValidName } from '../registry/names.js'
import type { ModelPool } from '../runtime/model-pool.js'
import { describeModel, describeModelSummary } from './catalog.js'
import { sendError } from './respond.js'

export function createControlPlane(pool: ModelPool, log: Logger): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)

  app.get('/v1/models', (_req, res) => {
    res.json({ models: pool.models().map(describeModelSummary) })
  })

  app.get('/v1/models/:model', (req, res) => {
    const name = req.params.model
    if (!isValidName(name)) throw gatewayError('NAME_INVALID', 'model', name.slice(0, 64))
    res.json(describeModel(pool.getModel(name)))
  })

  app.use((req, _res, next) => next(gatewayError('ROUTE_NOT_FOUND', req.method, req.path)))

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    // Express's own errors (e.g. a malformed URI) carry a 4xx status but no catalogue code.
    const status = (err as { status?: number }).status
    const mapped = typeof status === 'number' && status >= 400 && status < 500 && !(err as { code?: unknown }).code
      ? gatewayError('ROUTE_NOT_FOUND', req.method, req.path)
      : err
    sendError(res, mapped, log, { method: req.method, path: req.originalUrl })
  })
  return app
}
