/**
 * GET /dashboard: a static page (dashboard/ at the package root) drawing the gateway's own
 * API with Chart.js, which the gateway serves from node_modules, so the page works offline.
 */
import express from 'express'
import type { Router } from 'express'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PAGE_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url)) // the same from src/http and dist/http
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js')

/** `authRequired`: whether the API the page calls needs a token (the page then asks before calling it). */
export function dashboardRouter(authRequired: boolean): Router {
  const router = express.Router()
  router.get('/dashboard/config.json', (_req, res) => {
    res.json({ auth: authRequired })
  })
  const send = (file: string, type: string) => (_req: express.Request, res: express.Response) => {
    res.type(type).set('cache-control', 'no-cache').sendFile(file)
  }
  router.get('/dashboard', send(join(PAGE_DIR, 'index.html'), 'html'))
  router.get('/dashboard/app.js', send(join(PAGE_DIR, 'app.js'), 'js'))
  router.get('/dashboard/style.css', send(join(PAGE_DIR, 'style.css'), 'css'))
  router.get('/dashboard/vendor/chart.umd.min.js', send(CHART_JS, 'js'))
  return router
}
