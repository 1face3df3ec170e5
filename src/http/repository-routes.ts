/**
 * Triton's model repository extension (docs/protocol/extension_model_repository.md), on the
 * control plane: these calls are rare and need a token, so they are not on the data plane's
 * fast path, which leaves /v2/repository/* to Express.
 *
 *   POST /v2/repository/index                  read   {"ready"?}  every model and version, with its state
 *   POST /v2/repository/models/{model}/load    load   (re)load the model's folder from models/
 *   POST /v2/repository/models/{model}/unload  load   release its sessions; 503 VERSION_UNLOADED until loaded again
 *
 * Unloading a model that takes live traffic is refused (409), as archiving such a version is.
 */
import express from 'express'
import type { Router } from 'express'
import { z } from 'zod'
import type { Guard } from '../auth/guard.js'
import type { Identity } from '../auth/tokens.js'
import { gatewayError, gatewayErrorWith } from '../errors.js'
import type { Lifecycle } from '../lifecycle/lifecycle.js'
import { isValidName } from '../registry/names.js'
import { listModelFolders } from '../registry/scan.js'
import type { ModelPool, ServingModel, VersionState } from '../runtime/model-pool.js'

export const RepositoryIndexRequest = z.object({
  ready: z.boolean().optional().describe('true: only the versions ready for inference'),
}).strict()

export const RepositoryLoadRequest = z.object({
  parameters: z.object({}).strict().optional().describe('none are taken: the model is loaded as its folder in models/ is'),
}).strict()

export const RepositoryUnloadRequest = z.object({
  parameters: z.object({
    unload_dependents: z.boolean().optional().describe('accepted; no model depends on another here'),
  }).strict().optional(),
}).strict()

/** Triton's model states. */
const STATES = ['READY', 'UNAVAILABLE', 'LOADING', 'UNLOADING'] as const

export const RepositoryIndexEntry = z.object({
  name: z.string(),
  version: z.string().optional().describe('absent for a model folder that has not been loaded yet'),
  state: z.enum(STATES),
  reason: z.string().describe('why the version is not READY; empty when it is'),
})
export const RepositoryIndex = z.array(RepositoryIndexEntry)
type IndexEntry = z.infer<typeof RepositoryIndexEntry>

const TRITON_STATE: Record<VersionState, (typeof STATES)[number]> = {
  loading: 'LOADING',
  ready: 'READY',
  failed: 'UNAVAILABLE',
  draining: 'UNLOADING',
  unloading: 'UNLOADING',
  unloaded: 'UNAVAILABLE',
}

export function repositoryRouter(pool: ModelPool, modelsDir: string, lifecycle: Lifecycle, guard: Guard): Router {
  const router = express.Router()
  const body = express.json({ limit: '16kb', type: () => true })
  const who = (res: express.Response): string => (res.locals.identity as Identity).name

  router.post('/v2/repository/index', guard.require('read'), body, async (req, res) => {
    const { ready } = parseBody(RepositoryIndexRequest, req.body, 'send no body, {} or {"ready": true}')
    const entries = pool.models().flatMap(indexEntries)
    const notLoaded = (await listModelFolders(modelsDir)).filter((name) => !pool.hasModel(name))
      .map((name): IndexEntry => ({ name, state: 'UNAVAILABLE', reason: `not loaded yet: POST /v2/repository/models/${name}/load` }))
    const all = [...entries, ...notLoaded].sort((a, b) => a.name.localeCompare(b.name))
    res.json(ready === true ? all.filter((e) => e.state === 'READY') : all)
  })

  router.post('/v2/repository/models/:model/load', guard.require('load'), body, async (req, res) => {
    parseBody(RepositoryLoadRequest, req.body, 'send no body: the model is loaded as its folder in models/ is (model.yaml, version.yaml), load takes no parameters')
    const name = modelName(req)
    const { model, failed } = await pool.loadModel(name)
    lifecycle.record({ actor: who(res), kind: failed.length === 0 ? 'model-loaded' : 'model-load-failed', model: name, detail: { versions: model.versionNames(), failed } })
    if (failed.length > 0) {
      throw gatewayErrorWith('MODEL_LOAD_FAILED', { details: { failed } }, name, failed.map((f) => `version '${f.version}': ${f.reason}`))
    }
    res.json(indexEntries(model))
  })

  router.post('/v2/repository/models/:model/unload', guard.require('load'), body, async (req, res) => {
    parseBody(RepositoryUnloadRequest, req.body, 'send no body, or {"parameters": {"unload_dependents": true}}')
    const model = pool.getModel(modelName(req))
    const live = Object.entries(lifecycle.liveTraffic()).find(([key]) => key.startsWith(`${model.name}/`))
    if (live !== undefined) {
      const [key, how] = live
      throw gatewayErrorWith('MODEL_TAKES_LIVE_TRAFFIC', { details: { live_traffic: { [key]: how } } }, model.name, key.slice(model.name.length + 1), how)
    }
    await pool.unloadModel(model.name)
    lifecycle.record({ actor: who(res), kind: 'model-unloaded', model: model.name, detail: { versions: model.versionNames() } })
    res.json(indexEntries(model))
  })

  return router
}

function indexEntries(model: ServingModel): IndexEntry[] {
  return [...model.versions.values()].map((v) => ({
    name: model.name,
    version: v.version,
    state: TRITON_STATE[v.state],
    reason: v.state === 'unloaded' ? `unloaded; POST /v2/repository/models/${model.name}/load loads it again` : (v.reason ?? ''),
  }))
}

/** An optional body (none, or `{}`) checked against `schema`; the first problem becomes BODY_INVALID. */
function parseBody<S extends z.ZodType>(schema: S, value: unknown, hint: string): z.infer<S> {
  const parsed = schema.safeParse(value ?? {})
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const where = issue.path.length === 0 ? 'the body' : issue.path.join('.')
  throw gatewayError('BODY_INVALID', `${where}: ${issue.message}; ${hint}`)
}

function modelName(req: express.Request): string {
  const name = req.params.model as string
  if (!isValidName(name)) throw gatewayError('NAME_INVALID', 'model', name.slice(0, 64))
  return name
}
