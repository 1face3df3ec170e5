/**
 * Reference profiles and drift on the control plane (docs/drift.md).
 *
 *   PUT /v1/models/{model}/versions/{version}/reference   reload   a profile (drift/profile.ts), as switchyard reference builds it
 *   GET /v1/models/{model}/versions/{version}/reference   read
 *   GET /v1/models/{model}/drift?version=&since=&until=&reference=   read
 *
 * `reference` is `profile` (the version's own, the default), `profile:VERSION` (another
 * version's profile), `VERSION` (that version's records in the same window) or
 * `window:SINCE..UNTIL` (the version's own records then). Versions need not be served here:
 * a version recorded from elsewhere has drift too.
 */
import express from 'express'
import type { Router } from 'express'
import type { Guard } from '../auth/guard.js'
import type { Identity } from '../auth/tokens.js'
import { buildDriftReport, DEFAULT_PSI_THRESHOLD } from '../drift/drift.js'
import type { ReferenceSpec } from '../drift/drift-sql.js'
import { ReferenceProfileSchema } from '../drift/profile.js'
import { DRIFT_OPERATIONS } from '../drift/registry.js'
import { gatewayError } from '../errors.js'
import { isValidName } from '../registry/names.js'
import type { ModelPool } from '../runtime/model-pool.js'
import type { StoreCalls } from '../store/store-client.js'
import { parseTimestamp } from '../timestamp.js'
import { queryReader } from './query-params.js'

export const DEFAULT_DRIFT_WINDOW_MS = 86_400_000 // 24 h: without since, the day before until
const MAX_PROFILE_BYTES = '8mb' // 10,000 features of 100 bins

export function driftRouter(pool: ModelPool, store: StoreCalls, guard: Guard): Router {
  const router = express.Router()
  const versionOf = (text: string, parameter: string): string => {
    if (!isValidName(text)) throw gatewayError('QUERY_INVALID', parameter, `'${text.slice(0, 64)}' is not a version name (letters, digits, '.', '_', '-')`)
    return text
  }

  router.put('/v1/models/:model/versions/:version/reference', guard.require('reload'), express.json({ limit: MAX_PROFILE_BYTES, type: () => true }), async (req, res) => {
    const model = pool.getModel(req.params.model as string).name
    const version = versionOf(req.params.version as string, 'version')
    const parsed = ReferenceProfileSchema.safeParse(req.body)
    if (!parsed.success) {
      const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`)
      throw gatewayError('REFERENCE_INVALID', `is not valid: ${problems.join('; ')}`)
    }
    const stored = await store.run(DRIFT_OPERATIONS.putProfile, model, version, parsed.data, (res.locals.identity as Identity).name, Date.now())
    res.json(summary(stored))
  })

  router.get('/v1/models/:model/versions/:version/reference', guard.require('read'), async (req, res) => {
    const model = pool.getModel(req.params.model as string).name
    const version = versionOf(req.params.version as string, 'version')
    const stored = await store.run(DRIFT_OPERATIONS.getProfile, model, version)
    if (stored === null) throw gatewayError('DRIFT_NO_REFERENCE', model, version)
    res.json({ ...summary(stored), profile: stored.profile })
  })

  router.get('/v1/models/:model/drift', guard.require('read'), async (req, res) => {
    const model = pool.getModel(req.params.model as string)
    const { text, time } = queryReader(req.query as Record<string, unknown>)
    const versionText = text('version')
    if (versionText === undefined) throw gatewayError('QUERY_INVALID', 'version', `is required: the version whose records to measure, e.g. version=${model.versionNames()[0] ?? 'v1'}`)
    const version = versionOf(versionText, 'version')
    const until = time('until') ?? Date.now()
    const since = time('since') ?? until - DEFAULT_DRIFT_WINDOW_MS
    if (since >= until) throw gatewayError('QUERY_INVALID', 'since', 'must be before until')
    const reference = parseReference(text('reference'), version, versionOf)
    const raw = await store.run(DRIFT_OPERATIONS.raw, { model: model.name, version, since, until, reference })
    const report = buildDriftReport(raw, { model: model.name, version, since, until, reference, psiThreshold: model.metadata?.drift?.psi ?? DEFAULT_PSI_THRESHOLD })
    res.json({ ...report, source: raw.source })
  })

  return router
}

function summary(s: { model: string; version: string; profile: { records: number; source: string; features: readonly unknown[]; score: unknown }; updated_at: number; updated_by: string }) {
  return {
    model: s.model, version: s.version, records: s.profile.records, source: s.profile.source,
    features: s.profile.features.length, score: s.profile.score !== null, updated_at: new Date(s.updated_at).toISOString(), updated_by: s.updated_by,
  }
}

/** `profile`, `profile:VERSION`, `VERSION` or `window:SINCE..UNTIL` (times as ISO 8601 or ms). */
export function parseReference(text: string | undefined, version: string, versionOf: (text: string, parameter: string) => string): ReferenceSpec {
  if (text === undefined || text === 'profile') return { kind: 'profile', version }
  if (text.startsWith('profile:')) return { kind: 'profile', version: versionOf(text.slice('profile:'.length), 'reference') }
  if (text.startsWith('window:')) {
    const [sinceText, untilText, ...rest] = text.slice('window:'.length).split('..')
    const usage = 'must be window:SINCE..UNTIL, two ISO 8601 times or ms since the epoch, SINCE before UNTIL'
    if (untilText === undefined || rest.length > 0) throw gatewayError('QUERY_INVALID', 'reference', usage)
    let since: number
    let until: number
    try {
      since = parseTimestamp(sinceText, 'reference')
      until = parseTimestamp(untilText, 'reference')
    } catch {
      throw gatewayError('QUERY_INVALID', 'reference', usage)
    }
    if (since >= until) throw gatewayError('QUERY_INVALID', 'reference', usage)
    return { kind: 'window', since, until }
  }
  return { kind: 'version', version: versionOf(text, 'reference') }
}
