/**
 * Holds the live route table and applies routes.yaml: read and hash, parse, check, compile,
 * then swap one reference (STYLE.md §4). A file that fails any step (unreadable, empty,
 * invalid, or gone after a good one) leaves the last good table serving; the rejection, with
 * its problems and lines, is kept for GET /admin/routes. Every applied config becomes a
 * revision (number, sha256, time) with its source, so that a rollback can write an earlier
 * revision back to routes.yaml. While requests are served, files are checked on the config
 * worker (routes-checker.ts): a large or hostile file never holds a request up.
 */
import { rename, writeFile } from 'node:fs/promises'
import { checkRoutes, checkRoutesSource, snapshotCatalog } from '../config/routes-check.js'
import type { CheckOutcome, ModelCatalog } from '../config/routes-check.js'
import type { RoutesChecker } from '../config/routes-checker.js'
import { readRegularFile } from '../config/regular-file.js'
import { MAX_ROUTES_BYTES, sha256Of } from '../config/routes-load.js'
import type { ConfigProblem } from '../config/routes-load.js'
import type { CanaryConfig } from '../config/routes-schema.js'
import { gatewayError } from '../errors.js'
import type { Logger } from '../log.js'
import { CanaryController, canaryKey } from './canary.js'
import type { CanaryEvent } from './canary.js'
import { RouteTable } from './route-table.js'
import type { Revision } from './route-table.js'

export interface Rejection {
  readonly at: string
  /** Of the rejected text; null when there was no text to read. */
  readonly sha256: string | null
  readonly trigger: string
  readonly problems: readonly ConfigProblem[]
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
const MAX_HISTORY = 50 // revisions kept for rollback

const placeless = (message: string): ConfigProblem => ({ path: '', line: null, column: null, message })

/** A reload's outcome in the log: applied at info, rejected at warn with every problem; unchanged says nothing. */
export function logRoutesOutcome(log: Logger, outcome: ReloadOutcome, trigger: string): void {
  if (outcome.kind === 'applied') log.info('routes.yaml applied', { trigger, revision: outcome.revision.number, sha256: outcome.revision.sha256 })
  if (outcome.kind === 'rejected') log.warn('routes.yaml rejected; the last good config still serves', { trigger, problems: outcome.rejection.problems })
}

export class RoutesHolder {
  readonly path: string
  readonly #catalog: RoutesCatalog
  readonly #checker: RoutesChecker
  #current: RouteTable
  #lastRejection: Rejection | null = null
  readonly #history: RouteTable[] = []
  #canaries = new Map<string, CanaryController>()
  #onCanaryEvent: ((model: string, event: CanaryEvent) => void) | null = null

  /** Canary steps, completions and rollbacks as they happen (the activity log); set, it first reports those of the canaries running now. */
  set onCanaryEvent(listener: ((model: string, event: CanaryEvent) => void) | null) {
    this.#onCanaryEvent = listener
    for (const c of this.#canaries.values()) for (const e of c.events) listener?.(c.model, e)
  }
  #nextRevision = 1
  #queue: Promise<unknown> = Promise.resolve()
  /** Called after every reload attempt, for metrics and the activity log. */
  onOutcome: ((outcome: ReloadOutcome, trigger: string) => void) | null = null

  private constructor(path: string, catalog: RoutesCatalog, checker: RoutesChecker, initial: RouteTable) {
    this.path = path
    this.#catalog = catalog
    this.#checker = checker
    this.#current = initial
  }

  /**
   * Load routes.yaml at start, checked on this thread (nothing is served yet). A missing file
   * means no routes; an unreadable or invalid one throws with every problem.
   */
  static async open(path: string, catalog: RoutesCatalog, checker: RoutesChecker): Promise<RoutesHolder> {
    const holder = new RoutesHolder(path, catalog, checker, null as unknown as RouteTable)
    const read = await readRegularFile(path, MAX_ROUTES_BYTES)
    if (!read.ok && !read.isMissing) throw Object.assign(gatewayError('ROUTES_INVALID_AT_START', path, 1), { problems: [placeless(`${path}: ${read.reason}`)] })
    const source = read.ok ? read.text : NO_ROUTES
    const checked = checkRoutesSource(source, catalog)
    if (!checked.ok) throw Object.assign(gatewayError('ROUTES_INVALID_AT_START', path, checked.problems.length), { problems: checked.problems })
    holder.#adopt(holder.#compile(source, checked))
    return holder
  }

  /** The table in force: read once per request. */
  get current(): RouteTable {
    return this.#current
  }

  get lastRejection(): Rejection | null {
    return this.#lastRejection
  }

  get history(): readonly Revision[] {
    return this.#history.map((t) => t.revision)
  }

  /**
   * Re-read routes.yaml and apply it if it changed and is valid. Reloads run one after the
   * other, so a caller always sees the file as it was when its own reload began.
   */
  reload(trigger: string): Promise<ReloadOutcome> {
    const next = this.#queue.then(() => this.#reload(trigger))
    this.#queue = next.catch(() => undefined)
    return next
  }

  /** Write an earlier revision's source back to routes.yaml and apply it. */
  async rollback(revisionNumber: number, trigger = 'rollback'): Promise<ReloadOutcome> {
    const target = this.#history.find((t) => t.revision.number === revisionNumber)
    if (target === undefined) throw gatewayError('REVISION_NOT_FOUND', revisionNumber, this.history.map((r) => r.number))
    const tmp = `${this.path}.tmp-${process.pid}`
    await writeFile(tmp, target.source)
    await rename(tmp, this.path) // atomic: a watcher never reads half a file
    return this.reload(`${trigger} to revision ${revisionNumber}`)
  }

  /** Never throws: whatever goes wrong (the file, its text, the worker) is a recorded rejection. */
  async #reload(trigger: string): Promise<ReloadOutcome> {
    let outcome: ReloadOutcome
    try {
      outcome = await this.#tryReload(trigger)
    } catch (err) {
      outcome = this.#reject(trigger, null, [placeless(`the file could not be applied: ${(err as Error).message}`)])
    }
    this.onOutcome?.(outcome, trigger)
    return outcome
  }

  async #tryReload(trigger: string): Promise<ReloadOutcome> {
    const read = await readRegularFile(this.path, MAX_ROUTES_BYTES)
    if (!read.ok) {
      const fix = read.isMissing ? ". To remove every route, write 'routes: {}'" : ''
      return this.#reject(trigger, null, [placeless(`${this.path}: ${read.reason}; the last good routes still serve${fix}`)])
    }
    const sha256 = sha256Of(read.text)
    if (sha256 === this.#current.revision.sha256) return { kind: 'unchanged', revision: this.#current.revision }
    const checked = await this.#checker.check(read.text, snapshotCatalog(this.#catalog, this.#catalog.modelNames()))
    if (!checked.ok) return this.#reject(trigger, sha256, checked.problems)
    const table = this.#compile(read.text, checked)
    this.#adopt(table)
    this.#lastRejection = null
    return { kind: 'applied', revision: table.revision }
  }

  #reject(trigger: string, sha256: string | null, problems: readonly ConfigProblem[]): ReloadOutcome {
    this.#lastRejection = { at: new Date().toISOString(), sha256, trigger, problems }
    return { kind: 'rejected', rejection: this.#lastRejection }
  }

  /**
   * Re-check the live table against the models, e.g. after versions were added or removed.
   * Semantic rules only: the file itself was checked when it was applied (no lines here).
   */
  recheck(): ConfigProblem[] {
    return checkRoutes(this.#current.file, this.#catalog).map((p) => ({ path: p.path.join('.'), line: null, column: null, message: p.message }))
  }

  #compile(source: string, checked: Extract<CheckOutcome, { ok: true }>): RouteTable {
    const revision: Revision = { number: this.#nextRevision, sha256: sha256Of(source), appliedAt: new Date().toISOString() }
    return new RouteTable(revision, source, checked.file, (m, c) => this.#canaryFor(m, c))
  }

  #adopt(table: RouteTable): void {
    this.#nextRevision++
    // canaries that the new table no longer runs are dropped; the others keep their state
    const live = new Map<string, CanaryController>()
    for (const route of table.routes.values()) if (route.canary !== null) live.set(route.canary.key, route.canary)
    for (const [key, canary] of live) {
      if (this.#canaries.has(key)) continue
      // a canary starts with this table: report what it has recorded so far, then each new event
      for (const e of canary.events) this.#onCanaryEvent?.(canary.model, e)
      canary.onEvent = (e) => this.#onCanaryEvent?.(canary.model, e)
    }
    this.#canaries = live
    this.#current = table // the swap: one assignment
    this.#history.push(table)
    if (this.#history.length > MAX_HISTORY) this.#history.shift()
  }

  #canaryFor(model: string, config: CanaryConfig): CanaryController {
    return this.#canaries.get(canaryKey(model, config)) ?? new CanaryController(model, config)
  }

  /** Advance canaries whose interval has passed. */
  tickCanaries(): void {
    for (const c of this.#canaries.values()) c.tick()
  }
}
