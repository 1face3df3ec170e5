/**
 * Route revisions (migration 4): every routes file a gateway applied, numbered once for every
 * replica of the store. The table is appended to only; the head (highest number) is the
 * revision in force. A rollback appends a copy of an earlier revision (origin 'rollback'), so
 * the history says who rolled back, and when.
 *
 * A file is recorded only when it differs from the last revision that came from the file
 * (origin 'file'), not from the head: after a rollback, replicas that read the unchanged file
 * (at a restart, a reload) leave the rollback in force; the next edit of the file, a new
 * sha256, becomes the head. Two replicas that apply one edit at the same moment take one
 * number: PostgreSQL serializes the writers on an advisory lock (its transactions read
 * committed); SQLite's write transaction holds the write lock from BEGIN.
 */
import { gatewayError } from '../errors.js'
import { namedOperations, reads, sql, writes } from './operation.js'
import type { DialectSql, Operation } from './operation.js'

const REVISIONS_LOCK = 0x5357_5256 // any constant shared by every replica (≠ the migrations' lock)
export const HISTORY_LIMIT = 50 // revisions GET /admin/routes lists, newest last

export interface StoredRevision {
  readonly number: number
  readonly sha256: string
  /** 'file': routes.yaml as a gateway read it; 'rollback': a copy of revision `rollbackOf`. */
  readonly origin: 'file' | 'rollback'
  readonly rollbackOf: number | null
  /** What applied it (file watch, POST /admin/routes/reload, start, rollback) … */
  readonly trigger: string
  /** … and who: a token's name, or 'system'. */
  readonly actor: string
  readonly appliedAt: string
}

export interface RevisionWithSource extends StoredRevision {
  readonly source: string
}

export interface NewFileRevision {
  readonly sha256: string
  readonly source: string
  readonly trigger: string
  readonly actor: string
}

const COLUMNS = 'number, sha256, origin, rollback_of, trigger, actor, applied_at'

function toRevision(r: Record<string, unknown>): StoredRevision {
  return {
    number: Number(r.number), sha256: String(r.sha256), origin: r.origin as StoredRevision['origin'],
    rollbackOf: r.rollback_of == null ? null : Number(r.rollback_of), trigger: String(r.trigger), actor: String(r.actor),
    appliedAt: new Date(Number(r.applied_at)).toISOString(),
  }
}

const withSource = (r: Record<string, unknown>): RevisionWithSource => ({ ...toRevision(r), source: String(r.source) })

const serializeWriters: DialectSql = (d) => (d.name === 'postgres' ? sql('SELECT pg_advisory_xact_lock(?)', REVISIONS_LOCK) : sql('SELECT 1'))

export function* headWithSource(): Operation<RevisionWithSource | null> {
  const [row] = yield sql('SELECT * FROM route_revisions ORDER BY number DESC LIMIT 1')
  return row === undefined ? null : withSource(row)
}

function* append(r: { sha256: string; source: string; origin: 'file' | 'rollback'; rollbackOf: number | null; trigger: string; actor: string }): Operation<RevisionWithSource> {
  const [last] = yield sql('SELECT max(number) AS n FROM route_revisions')
  const number = Number(last?.n ?? 0) + 1
  yield sql(`INSERT INTO route_revisions (${COLUMNS}, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    number, r.sha256, r.origin, r.rollbackOf, r.trigger, r.actor, Date.now(), r.source)
  return (yield* headWithSource())!
}

/**
 * The file a gateway read and found good: a new revision unless it is the last file recorded.
 * Resolves to the head afterwards, which may be another revision (a rollback in force, or a
 * newer file another replica recorded), and to the revision this file is.
 */
export function* recordFile(f: NewFileRevision): Operation<{ head: RevisionWithSource; file: RevisionWithSource }> {
  yield serializeWriters
  const [lastFile] = yield sql(`SELECT * FROM route_revisions WHERE origin = 'file' ORDER BY number DESC LIMIT 1`)
  if (lastFile !== undefined && String(lastFile.sha256) === f.sha256) return { head: (yield* headWithSource())!, file: withSource(lastFile) }
  const added = yield* append({ ...f, origin: 'file', rollbackOf: null })
  return { head: added, file: added }
}

/** Make revision `to` the one in force again, as a new revision; unchanged when its text is in force already. */
export function* rollback(to: number, trigger: string, actor: string): Operation<{ changed: boolean; head: RevisionWithSource }> {
  yield serializeWriters
  const [target] = yield sql('SELECT * FROM route_revisions WHERE number = ?', to)
  if (target === undefined) throw gatewayError('REVISION_NOT_FOUND', to, yield* keptNumbers())
  const head = (yield* headWithSource())!
  if (head.sha256 === String(target.sha256)) return { changed: false, head }
  return { changed: true, head: yield* append({ sha256: String(target.sha256), source: String(target.source), origin: 'rollback', rollbackOf: to, trigger, actor }) }
}

function* keptNumbers(): Operation<number[]> {
  const rows = yield sql(`SELECT number FROM (SELECT number FROM route_revisions ORDER BY number DESC LIMIT ${HISTORY_LIMIT}) AS kept ORDER BY number`)
  return rows.map((r) => Number(r.number))
}

/** One revision with its text, or REVISION_NOT_FOUND. */
export function* revision(number: number): Operation<RevisionWithSource> {
  const [row] = yield sql('SELECT * FROM route_revisions WHERE number = ?', number)
  if (row === undefined) throw gatewayError('REVISION_NOT_FOUND', number, yield* keptNumbers())
  return withSource(row)
}

/** The revision in force, without its text: what every replica polls. */
export function* head(): Operation<StoredRevision | null> {
  const [row] = yield sql(`SELECT ${COLUMNS} FROM route_revisions ORDER BY number DESC LIMIT 1`)
  return row === undefined ? null : toRevision(row)
}

/** The last HISTORY_LIMIT revisions, oldest first. */
export function* history(): Operation<StoredRevision[]> {
  const rows = yield sql(`SELECT * FROM (SELECT ${COLUMNS} FROM route_revisions ORDER BY number DESC LIMIT ${HISTORY_LIMIT}) AS kept ORDER BY number`)
  return rows.map(toRevision)
}

/** The route revisions' operations the store worker runs by name. */
export const ROUTE_REVISION_OPERATIONS = namedOperations('routeRevisions', {
  recordFile: writes(recordFile),
  rollback: writes(rollback),
  revision: reads(revision),
  head: reads(head),
  headWithSource: reads(headWithSource),
  history: reads(history),
})
