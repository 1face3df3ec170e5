/**
 * Lifecycle operations, written once for both stores (store/operation.ts). Every change
 * appends to the activity log in the same transaction.
 */
import { gatewayError } from '../errors.js'
import { newInferenceId } from '../inference-id.js'
import { sql } from '../store/operation.js'
import type { Operation } from '../store/operation.js'
import { skippedStages } from './stages.js'
import type { Stage } from './stages.js'

const q = sql

export interface VersionStage {
  readonly model: string
  readonly version: string
  readonly stage: Stage
  readonly locked: boolean
  readonly updated_at: string
}

export interface StageRequest {
  readonly id: string
  readonly model: string
  readonly version: string
  readonly from_stage: Stage
  readonly to_stage: Stage
  /** Stages the move jumps over on the usual path; non-empty means it is flagged. */
  readonly skipped: Stage[]
  readonly requester: string
  readonly comment: string | null
  readonly status: 'pending' | 'approved' | 'rejected' | 'cancelled'
  readonly decided_by: string | null
  readonly decision_comment: string | null
  readonly created_at: string
  readonly decided_at: string | null
}

export interface ActivityEntry {
  readonly id: string
  readonly at: string
  readonly actor: string
  readonly kind: string
  readonly model: string | null
  readonly version: string | null
  readonly detail: unknown
  readonly comment: string | null
}

export interface NewActivity {
  readonly actor: string
  readonly kind: string
  readonly model?: string | null
  readonly version?: string | null
  readonly detail?: unknown
  readonly comment?: string | null
}

function isUniqueViolation(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '')
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE'
}

const iso = (v: unknown): string => new Date(Number(v)).toISOString()

function toStage(r: Record<string, unknown>): VersionStage {
  return { model: String(r.model), version: String(r.version), stage: r.stage as Stage, locked: Number(r.locked) === 1, updated_at: iso(r.updated_at) }
}

function toRequest(r: Record<string, unknown>): StageRequest {
  return {
    id: String(r.id), model: String(r.model), version: String(r.version), from_stage: r.from_stage as Stage, to_stage: r.to_stage as Stage,
    skipped: JSON.parse(String(r.skipped)) as Stage[], requester: String(r.requester), comment: (r.comment as string | null) ?? null,
    status: r.status as StageRequest['status'], decided_by: (r.decided_by as string | null) ?? null,
    decision_comment: (r.decision_comment as string | null) ?? null, created_at: iso(r.created_at), decided_at: r.decided_at == null ? null : iso(r.decided_at),
  }
}

function toActivity(r: Record<string, unknown>): ActivityEntry {
  return {
    id: String(r.id), at: iso(r.at), actor: String(r.actor), kind: String(r.kind), model: (r.model as string | null) ?? null,
    version: (r.version as string | null) ?? null, detail: r.detail == null ? null : JSON.parse(String(r.detail)), comment: (r.comment as string | null) ?? null,
  }
}

function* log(a: NewActivity): Operation<void> {
  yield q('INSERT INTO activity (id, at, actor, kind, model, version, detail, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    newInferenceId(), Date.now(), a.actor, a.kind, a.model ?? null, a.version ?? null, a.detail === undefined ? null : JSON.stringify(a.detail), a.comment ?? null)
}

export function* appendActivity(entries: readonly NewActivity[]): Operation<void> {
  for (const e of entries) yield* log(e)
}

/** New version folders enter the registry in stage Unassigned (logged); known ones keep their stage. */
export function* registerVersions(versions: readonly { model: string; version: string }[]): Operation<VersionStage[]> {
  for (const v of versions) {
    const added = yield q(`INSERT INTO version_stages (model, version, stage, locked, updated_at) VALUES (?, ?, 'Unassigned', 0, ?)
      ON CONFLICT (model, version) DO NOTHING RETURNING model`, v.model, v.version, Date.now())
    if (added.length > 0) yield* log({ actor: 'system', kind: 'version-registered', model: v.model, version: v.version, detail: { stage: 'Unassigned' } })
  }
  return yield* listStages()
}

export function* listStages(model?: string): Operation<VersionStage[]> {
  const rows = model === undefined
    ? yield q('SELECT * FROM version_stages ORDER BY model, version')
    : yield q('SELECT * FROM version_stages WHERE model = ? ORDER BY version', model)
  return rows.map(toStage)
}

function* stageOf(model: string, version: string): Operation<VersionStage> {
  const [row] = yield q('SELECT * FROM version_stages WHERE model = ? AND version = ?', model, version)
  if (row === undefined) throw gatewayError('VERSION_NOT_FOUND', model, version, [])
  return toStage(row)
}

export interface StageChange {
  readonly model: string
  readonly version: string
  readonly to: Stage
  readonly actor: string
  readonly comment: string | null
  /** How this version takes live traffic now, if it does (archiving it is refused). */
  readonly liveTraffic: string | null
}

export function* requestStage(c: StageChange): Operation<StageRequest> {
  const current = yield* stageOf(c.model, c.version)
  if (current.locked) throw gatewayError('VERSION_LOCKED', c.model, c.version)
  if (current.stage === c.to) throw gatewayError('STAGE_UNCHANGED', c.model, c.version, c.to)
  if (c.to === 'Archived' && c.liveTraffic !== null) throw gatewayError('VERSION_TAKES_LIVE_TRAFFIC', c.model, c.version, c.liveTraffic)
  const [pending] = yield q("SELECT id FROM stage_requests WHERE model = ? AND version = ? AND status = 'pending'", c.model, c.version)
  if (pending !== undefined) throw gatewayError('STAGE_REQUEST_PENDING', c.model, c.version, String(pending.id))
  const skipped = skippedStages(current.stage, c.to)
  const id = newInferenceId()
  try {
    yield q(`INSERT INTO stage_requests (id, model, version, from_stage, to_stage, skipped, requester, comment, status, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`, id, c.model, c.version, current.stage, c.to, JSON.stringify(skipped), c.actor, c.comment, Date.now())
  } catch (err) {
    // another request for this version was made at the same moment (the one-pending index)
    if (isUniqueViolation(err)) throw gatewayError('STAGE_REQUEST_PENDING', c.model, c.version, 'made a moment ago')
    throw err
  }
  yield* log({ actor: c.actor, kind: 'stage-requested', model: c.model, version: c.version, detail: { request: id, from: current.stage, to: c.to, skipped }, comment: c.comment })
  return yield* requestById(id)
}

function* requestById(id: string): Operation<StageRequest> {
  const [row] = yield q('SELECT * FROM stage_requests WHERE id = ?', id)
  if (row === undefined) throw gatewayError('STAGE_REQUEST_NOT_FOUND', id)
  return toRequest(row)
}

export interface Decision {
  readonly id: string
  readonly action: 'approve' | 'reject' | 'cancel'
  readonly actor: string
  readonly comment: string | null
  /** model/version → how it takes live traffic, for the versions that do (router/live-traffic.ts). */
  readonly liveTraffic: Readonly<Record<string, string>>
}

const STATUS = { approve: 'approved', reject: 'rejected', cancel: 'cancelled' } as const

export function* decide(d: Decision): Operation<StageRequest> {
  const request = yield* requestById(d.id)
  if (request.status !== 'pending') throw gatewayError('STAGE_REQUEST_CLOSED', d.id, request.status)
  if (d.action === 'cancel' && d.actor !== request.requester) throw gatewayError('NOT_THE_REQUESTER', request.requester)
  if (d.action !== 'cancel' && d.actor === request.requester) throw gatewayError('SECOND_PERSON_REQUIRED', request.requester)
  const { model, version } = request
  // close the request first, and only if it is still pending: of two deciders racing on
  // PostgreSQL (READ COMMITTED), the second finds no pending row and changes nothing
  const closed = yield q("UPDATE stage_requests SET status = ?, decided_by = ?, decision_comment = ?, decided_at = ? WHERE id = ? AND status = 'pending' RETURNING id",
    STATUS[d.action], d.actor, d.comment, Date.now(), d.id)
  if (closed.length === 0) throw gatewayError('STAGE_REQUEST_CLOSED', d.id, (yield* requestById(d.id)).status)
  if (d.action === 'approve') {
    const current = yield* stageOf(model, version)
    if (current.locked) throw gatewayError('VERSION_LOCKED', model, version)
    const live = d.liveTraffic[`${model}/${version}`]
    if (request.to_stage === 'Archived' && live !== undefined) throw gatewayError('VERSION_TAKES_LIVE_TRAFFIC', model, version, live)
    yield q('UPDATE version_stages SET stage = ?, updated_at = ? WHERE model = ? AND version = ?', request.to_stage, Date.now(), model, version)
  }
  yield* log({
    actor: d.actor, kind: `stage-${STATUS[d.action]}`, model, version, comment: d.comment,
    detail: { request: d.id, requester: request.requester, from: request.from_stage, to: request.to_stage, skipped: request.skipped },
  })
  return yield* requestById(d.id)
}

export function* setLock(model: string, version: string, locked: boolean, actor: string, comment: string | null): Operation<VersionStage> {
  yield* stageOf(model, version)
  yield q('UPDATE version_stages SET locked = ?, updated_at = ? WHERE model = ? AND version = ?', locked ? 1 : 0, Date.now(), model, version)
  yield* log({ actor, kind: locked ? 'version-locked' : 'version-unlocked', model, version, comment })
  return yield* stageOf(model, version)
}

export function* listRequests(filter: { model?: string; status?: string }): Operation<StageRequest[]> {
  const where: string[] = []
  const params: unknown[] = []
  if (filter.model !== undefined) where.push('model = ?') && params.push(filter.model)
  if (filter.status !== undefined) where.push('status = ?') && params.push(filter.status)
  const rows = yield q(`SELECT * FROM stage_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT 500`, ...params)
  return rows.map(toRequest)
}

export function* listActivity(filter: { model?: string; since?: number; limit: number }): Operation<ActivityEntry[]> {
  const where: string[] = []
  const params: unknown[] = []
  if (filter.model !== undefined) where.push('model = ?') && params.push(filter.model)
  if (filter.since !== undefined) where.push('at >= ?') && params.push(filter.since)
  const rows = yield q(`SELECT * FROM activity ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ?`, ...params, filter.limit)
  return rows.map(toActivity)
}
