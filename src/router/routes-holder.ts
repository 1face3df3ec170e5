/**
 * Holds the live route table and applies routes.yaml: read and hash, parse, check, compile,
 * then swap one reference (STYLE.md §4). A file that fails any step (unreadable, empty,
 * invalid, or gone after a good one) leaves the last good table serving; the rejection, with
 * its problems and lines, is kept for GET /admin/routes. While requests are served, files are
 * checked on the config worker (routes-checker.ts): a large or hostile file never holds a
 * request up.
 *
 * With a store, every good file is a revision there (store/route-revisions.ts), numbered for
 * every replica, and the revision in force is the store's head: each replica polls it and
 * applies a new one within a second, or reports it rejected here and keeps its last good
 * table. A rollback appends an earlier revision as the new head and writes no file; it holds
 * until routes.yaml changes again (a new sha256). Without a store (`--store none`), revisions
 * are numbered in memory from 1 and a rollback writes the earlier text back to routes.yaml.
 */
import { rename, writeFile } from 'node:fs/promises'
import { checkRoutes, checkRoutesSource, snapshotCatalog } from '../config/routes-check.js'
import type { CheckOutcome, ModelCatalog } from '../config/routes-check.js'
import type { RoutesChecker } from '../config/routes-checker.js'
import { readRegularFile } from '../config/regular-file.js'
import { MAX_ROUTES_BYTES, parseRoutesSource, sha256Of } from '../config/routes-load.js'
import type { ConfigProblem } from '../config/routes-load.js'
import type { CanaryConfig } from '../config/routes-schema.js'
import { gatewayError } from '../errors.js'
import type { Logger } from '../log.js'
import type { CanaryController, CanaryEvent } from './canary.js'
import { Canaries } from './canaries.js'
import type { RevisionWithSource } from '../store/route-revisions.js'
import type { RevisionStore } from './revision-store.js'
import { REVISION_POLL_MS } from './revision-store.js'
import { RouteTable } from './route-table.js'
import type { Revision } from './route-table.js'

export interface Rejection {
  readonly at: string
  /** Of the rejected text; null when there was no text to read. */
  readonly sha256: string | null
  readonly trigger: string
  /** The store's revision this replica could not apply (e.g. it names a version missing here); null for a file. */
  readonly revision: number | null
  readonly problems: readonly ConfigProblem[]
}

/** routes.yaml beside the revision in force: after a rollback they differ until the file changes. */
export interface FileState {
  /** Null when the file cannot be read. */
  readonly sha256: string | null
  readonly differsFromRevisionInForce: boolean
}

export type ReloadOutcome =
  | { kind: 'applied'; revision: Revision }
  | { kind: 'unchanged'; revision: Revision }
  | { kind: 'rejected'; rejection: Rejection }

/** The models and versions routes are checked against; the model names let it travel to the config worker. */
export interface RoutesCatalog extends ModelCatalog {
  modelNames(): readonly string[]
}

/** At start, before any good file, a missing routes.yaml means no routes (documented). */
const NO_ROUTES = 'routes: {}\n'
const MAX_HISTORY = 50 // revisions kept for rollback without a store
const STORE_UNAVAILABLE = 'the store is unavailable: the file is neither recorded nor applied yet; it is tried again every half second'

const placeless = (message: string): ConfigProblem => ({ path: '', line: null, column: null, message })

/** A reload's outcome in the log: applied at info, rejected at warn with every problem; unchanged says nothing. */
export function logRoutesOutcome(log: Logger, outcome: ReloadOutcome, trigger: string): void {
  if (outcome.kind === 'applied') log.info('routes.yaml applied', { trigger, revision: outcome.revision.number, sha256: outcome.revision.sha256 })
  if (outcome.kind === 'rejected') log.warn('routes.yaml rejected; the last good config still serves', { trigger, revision: outcome.rejection.revision, problems: outcome.rejection.problems })
}

export class RoutesHolder {
  readonly path: string
  readonly #catalog: RoutesCatalog
  readonly #checker: RoutesChecker
  /** Null without a store: revisions are this process's own. */
  readonly #revisions: RevisionStore | null
  #current: RouteTable
  #lastRejection: Rejection | null = null
  /** Without a store: the tables applied since start, for rollback. */
  readonly #memoryHistory: RouteTable[] = []
  #nextRevision = 1
  /** With a store: the sha256 of routes.yaml when this replica last recorded it; a file with another one is an edit. */
  #recordedFileSha: string | null = null
  /** With a store: the file was good but could not be recorded (store down); the poll tries again. */
  #isFileRecordPending = false
  /** The store's head this replica rejected: not checked again at every poll. */
  #rejectedHead: number | null = null
  #pollTimer: NodeJS.Timeout | null = null
  #isPolling = false
  readonly #canaries: Canaries

  /** Canary starts, steps, completions and rollbacks as they are decided (the activity log), each once for all replicas. */
  set onCanaryEvent(listener: ((model: string, event: CanaryEvent) => void) | null) {
    this.#canaries.onEvent = listener
  }
  #queue: Promise<unknown> = Promise.resolve()
  /** Called after every reload attempt, for metrics and the activity log. */
  onOutcome: ((outcome: ReloadOutcome, trigger: string) => void) | null = null

  private constructor(path: string, catalog: RoutesCatalog, checker: RoutesChecker, revisions: RevisionStore | null, initial: RouteTable) {
    this.path = path
    this.#catalog = catalog
    this.#checker = checker
    this.#revisions = revisions
    this.#canaries = new Canaries(revisions)
    this.#current = initial
  }

  /**
   * Load routes.yaml at start, checked on this thread (nothing is served yet). A missing file
   * means no routes; an unreadable or invalid one throws with every problem. With a store, the
   * file is recorded (the same text as the last file recorded is the same revision) and the
   * store's head is applied: a rollback in force, or a newer file another replica recorded.
   */
  static async open(path: string, catalog: RoutesCatalog, checker: RoutesChecker, revisions: RevisionStore | null = null): Promise<RoutesHolder> {
    const holder = new RoutesHolder(path, catalog, checker, revisions, null as unknown as RouteTable)
    const read = await readRegularFile(path, MAX_ROUTES_BYTES)
    if (!read.ok && !read.isMissing) throw Object.assign(gatewayError('ROUTES_INVALID_AT_START', path, 1), { problems: [placeless(`${path}: ${read.reason}`)] })
    const source = read.ok ? read.text : NO_ROUTES
    const checked = checkRoutesSource(source, catalog)
    if (!checked.ok) throw Object.assign(gatewayError('ROUTES_INVALID_AT_START', path, checked.problems.length), { problems: checked.problems })
    const sha256 = sha256Of(source)
    if (revisions === null) {
      holder.#adopt(holder.#compile(source, checked, holder.#memoryRevision(sha256, 'start', 'system')))
      return holder
    }
    let recorded: Awaited<ReturnType<RevisionStore['recordFile']>>
    try {
      recorded = await revisions.recordFile({ sha256, source, trigger: 'start', actor: 'system' })
    } catch {
      // serve the file as revision 0 (not numbered yet); the poll records it once the store answers
      holder.#isFileRecordPending = true
      holder.#adopt(holder.#compile(source, checked, { ...holder.#memoryRevision(sha256, 'start', 'system'), number: 0 }))
      holder.#startPolling()
      return holder
    }
    holder.#recordedFileSha = sha256
    const { head, file } = recorded
    const headChecked = head.sha256 === sha256 ? checked : checkRoutesSource(head.source, catalog)
    if (headChecked.ok) holder.#adopt(holder.#compile(head.source, headChecked, revisionOf(head)))
    else {
      holder.#adopt(holder.#compile(source, checked, revisionOf(file)))
      holder.#rejectStored(`revision ${head.number} in force in the store`, head, headChecked.problems)
    }
    await holder.#canaries.follow().catch(() => undefined) // a restart serves its canaries' steps from the first request
    holder.#startPolling()
    return holder
  }

  /** The table in force: read once per request. */
  get current(): RouteTable {
    return this.#current
  }

  get lastRejection(): Rejection | null {
    return this.#lastRejection
  }

  /** Whether revisions are kept in the store (numbered for every replica) rather than in this process. */
  get isStored(): boolean {
    return this.#revisions !== null
  }

  /** The last revisions, oldest first: from the store, or those applied since this process started. */
  async history(): Promise<readonly Revision[]> {
    if (this.#revisions !== null) return this.#revisions.history()
    return this.#memoryHistory.map((t) => t.revision)
  }

  /** The store's revision in force (which this replica may have rejected); this table's without a store. */
  async revisionInForce(): Promise<Revision> {
    return (await this.#revisions?.head()) ?? this.#current.revision
  }

  /**
   * The table of the store's revision in force, for the stage guard: another replica may have
   * applied a revision this one has not yet, or could not (a version missing here). Its text is
   * parsed, not checked against this replica's models. This replica's table when the two agree,
   * without a store, or when the store does not answer (the guarded change then fails there too).
   */
  async tableInForce(): Promise<RouteTable> {
    if (this.#revisions === null) return this.#current
    const head = await this.#revisions.head().catch(() => null)
    if (head === null || head.number === this.#current.revision.number) return this.#current
    const full = await this.#revisions.headWithSource().catch(() => null)
    const parsed = full === null ? null : parseRoutesSource(full.source)
    if (full === null || parsed === null || !parsed.ok) return this.#current
    return new RouteTable(revisionOf(full), full.source, parsed.parsed.file, (m, c) => this.#canaryFor(m, c))
  }

  /** routes.yaml now, against the revision in force (this table's when the store does not say). */
  async fileState(inForce: Revision | null): Promise<FileState> {
    const read = await readRegularFile(this.path, MAX_ROUTES_BYTES)
    const sha256 = read.ok ? sha256Of(read.text) : null
    return { sha256, differsFromRevisionInForce: sha256 !== (inForce ?? this.#current.revision).sha256 }
  }

  /**
   * Re-read routes.yaml and apply it if it changed and is valid. Reloads, rollbacks and polls
   * run one after the other, so a caller always sees the file as it was when its own began.
   */
  reload(trigger: string, actor = 'system'): Promise<ReloadOutcome> {
    return this.#enqueue(() => this.#settled(trigger, () => this.#tryReload(trigger, actor)))
  }

  /**
   * Make an earlier revision the one in force. With a store: checked here first (nothing is
   * written if it fails), then appended as the new head, which every replica applies; no file
   * is written. Without one: its text is written back to routes.yaml and applied.
   */
  rollback(revisionNumber: number, actor = 'system'): Promise<ReloadOutcome> {
    const trigger = `rollback to revision ${revisionNumber} by ${actor}`
    if (this.#revisions === null) return this.#rollbackFile(revisionNumber, trigger, actor)
    const revisions = this.#revisions
    return this.#enqueue(async () => {
      const target = await revisions.revision(revisionNumber) // REVISION_NOT_FOUND goes to the caller
      return this.#settled(trigger, async () => {
        const checked = await this.#checker.check(target.source, snapshotCatalog(this.#catalog, this.#catalog.modelNames()))
        if (!checked.ok) return this.#reject(trigger, target.sha256, checked.problems, target.number)
        const { head } = await revisions.rollback(revisionNumber, trigger, actor)
        return this.#applyStored(head, trigger, head.sha256 === target.sha256 ? checked : null)
      })
    })
  }

  async #rollbackFile(revisionNumber: number, trigger: string, actor: string): Promise<ReloadOutcome> {
    const target = this.#memoryHistory.find((t) => t.revision.number === revisionNumber)
    if (target === undefined) throw gatewayError('REVISION_NOT_FOUND', revisionNumber, this.#memoryHistory.map((t) => t.revision.number))
    const tmp = `${this.path}.tmp-${process.pid}`
    await writeFile(tmp, target.source)
    await rename(tmp, this.path) // atomic: a watcher never reads half a file
    return this.reload(trigger, actor)
  }

  /** Stop polling the store and release its connection. */
  async close(): Promise<void> {
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer)
    this.#pollTimer = null
    await this.#queue
    await this.#revisions?.close()
  }

  #enqueue<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(step)
    this.#queue = next.catch(() => undefined)
    return next
  }

  /** Never throws: whatever goes wrong (the file, its text, the worker, the store) is a recorded rejection. */
  async #settled(trigger: string, attempt: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> {
    let outcome: ReloadOutcome
    try {
      outcome = await attempt()
    } catch (err) {
      outcome = this.#reject(trigger, null, [placeless(`the routes could not be applied: ${(err as Error).message}`)])
    }
    this.onOutcome?.(outcome, trigger)
    return outcome
  }

  async #tryReload(trigger: string, actor: string): Promise<ReloadOutcome> {
    this.#isFileRecordPending = false // set again below if the store does not answer; a file that fails otherwise waits for its next edit
    const read = await readRegularFile(this.path, MAX_ROUTES_BYTES)
    if (!read.ok) {
      const fix = read.isMissing ? ". To remove every route, write 'routes: {}'" : ''
      return this.#reject(trigger, null, [placeless(`${this.path}: ${read.reason}; the last good routes still serve${fix}`)])
    }
    const sha256 = sha256Of(read.text)
    // with a store, the file is compared with the file last recorded: after a rollback it differs from the table in force
    const known = this.#revisions === null ? this.#current.revision.sha256 : this.#recordedFileSha
    if (sha256 === known) return { kind: 'unchanged', revision: this.#current.revision }
    const checked = await this.#checker.check(read.text, snapshotCatalog(this.#catalog, this.#catalog.modelNames()))
    if (!checked.ok) return this.#reject(trigger, sha256, checked.problems)
    if (this.#revisions === null) return this.#applied(this.#compile(read.text, checked, this.#memoryRevision(sha256, trigger, actor)))
    let recorded: Awaited<ReturnType<RevisionStore['recordFile']>>
    try {
      recorded = await this.#revisions.recordFile({ sha256, source: read.text, trigger, actor })
    } catch (err) {
      this.#isFileRecordPending = true
      return this.#reject(trigger, sha256, [placeless(`${STORE_UNAVAILABLE} (${(err as Error).message})`)])
    }
    this.#recordedFileSha = sha256
    return this.#applyStored(recorded.head, trigger, recorded.head.sha256 === sha256 ? checked : null)
  }

  /** Apply a revision of the store, checked here unless `checked` is its text's check already. */
  async #applyStored(revision: RevisionWithSource, trigger: string, checked: Extract<CheckOutcome, { ok: true }> | null): Promise<ReloadOutcome> {
    if (revision.number === this.#current.revision.number) {
      this.#lastRejection = null
      return { kind: 'unchanged', revision: this.#current.revision }
    }
    const outcome = checked ?? await this.#checker.check(revision.source, snapshotCatalog(this.#catalog, this.#catalog.modelNames()))
    if (!outcome.ok) return this.#rejectStored(trigger, revision, outcome.problems)
    return this.#applied(this.#compile(revision.source, outcome, revisionOf(revision)))
  }

  /**
   * Every REVISION_POLL_MS: a new head in the store (another replica's file, a rollback) is
   * applied here. One poll at a time: a store that does not answer (PostgreSQL's connection
   * timeout is 3 s) must not pile polls up in the queue.
   */
  #startPolling(): void {
    this.#pollTimer = setInterval(() => {
      void this.#canaries.follow().catch(() => undefined) // the store is down: the canaries stay where they were
      if (this.#isPolling) return
      this.#isPolling = true
      void this.#enqueue(() => this.#poll()).catch(() => undefined).finally(() => (this.#isPolling = false))
    }, REVISION_POLL_MS).unref()
  }

  async #poll(): Promise<void> {
    if (this.#pollTimer === null || this.#revisions === null) return
    if (this.#isFileRecordPending) {
      // reported once, when the file could not be recorded; from here on only its success is
      const trigger = 'store available again'
      const outcome = await this.#tryReload(trigger, 'system').catch(() => null)
      if (outcome !== null && outcome.kind !== 'rejected') this.onOutcome?.(outcome, trigger)
      return
    }
    let head: Revision | null
    try {
      head = await this.#revisions.head()
    } catch {
      return // the store is down: the last good table serves; the next poll tries again
    }
    if (head === null || head.number === this.#current.revision.number || head.number === this.#rejectedHead) return
    const trigger = `revision ${head.number} in force in the store`
    const full = await this.#revisions.headWithSource().catch(() => null)
    if (full !== null) await this.#settled(trigger, () => this.#applyStored(full, trigger, null))
  }

  #applied(table: RouteTable): ReloadOutcome {
    this.#adopt(table)
    this.#lastRejection = null
    this.#rejectedHead = null
    return { kind: 'applied', revision: table.revision }
  }

  #reject(trigger: string, sha256: string | null, problems: readonly ConfigProblem[], revision: number | null = null): ReloadOutcome {
    this.#lastRejection = { at: new Date().toISOString(), sha256, trigger, revision, problems }
    return { kind: 'rejected', rejection: this.#lastRejection }
  }

  #rejectStored(trigger: string, revision: RevisionWithSource, problems: readonly ConfigProblem[]): ReloadOutcome {
    this.#rejectedHead = revision.number
    return this.#reject(trigger, revision.sha256, problems, revision.number)
  }

  /**
   * Re-check the live table against the models, e.g. after versions were added or removed.
   * Semantic rules only: the file itself was checked when it was applied (no lines here).
   */
  recheck(): ConfigProblem[] {
    return checkRoutes(this.#current.file, this.#catalog).map((p) => ({ path: p.path.join('.'), line: null, column: null, message: p.message }))
  }

  #memoryRevision(sha256: string, trigger: string, actor: string): Revision {
    return { number: this.#nextRevision++, sha256, origin: 'file', rollbackOf: null, trigger, actor, appliedAt: new Date().toISOString() }
  }

  #compile(source: string, checked: Extract<CheckOutcome, { ok: true }>, revision: Revision): RouteTable {
    return new RouteTable(revision, source, checked.file, (m, c) => this.#canaryFor(m, c))
  }

  #adopt(table: RouteTable): void {
    this.#canaries.adopt(table)
    this.#current = table // the swap: one assignment
    if (this.#revisions !== null) return
    this.#memoryHistory.push(table)
    if (this.#memoryHistory.length > MAX_HISTORY) this.#memoryHistory.shift()
  }

  #canaryFor(model: string, config: CanaryConfig): CanaryController {
    return this.#canaries.controllerFor(model, config)
  }

  /** Advance canaries whose interval has passed: here, or through the store's one judge (canaries.ts). */
  tickCanaries(): void {
    this.#canaries.tick()
  }
}

/** A stored revision without its text, as a table carries it. */
function revisionOf(r: RevisionWithSource): Revision {
  const { source: _source, ...revision } = r
  return revision
}
