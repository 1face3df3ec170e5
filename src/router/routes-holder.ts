/**
 * Holds the live route table and applies routes.yaml: read and hash, parse, check, compile,
 * then swap one reference (STYLE.md §4). A file that fails any step leaves the last good
 * table serving; the rejection, with its problems and lines, is kept for GET /admin/routes.
 * Every applied config becomes a revision (number, sha256, time) with its source, so that
 * a rollback can write an earlier revision back to routes.yaml.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { checkRoutes } from '../config/routes-check.js'
import type { ModelCatalog } from '../config/routes-check.js'
import { inFileOrder, parseRoutesSource, sha256Of } from '../config/routes-load.js'
import type { ConfigProblem } from '../config/routes-load.js'
import type { CanaryConfig } from '../config/routes-schema.js'
import { gatewayError } from '../errors.js'
import { CanaryController, canaryKey } from './canary.js'
import type { CanaryEvent } from './canary.js'
import { RouteTable } from './route-table.js'
import type { Revision } from './route-table.js'

export interface Rejection {
  readonly at: string
  readonly sha256: string
  readonly trigger: string
  readonly problems: readonly ConfigProblem[]
}

export type ReloadOutcome =
  | { kind: 'applied'; revision: Revision }
  | { kind: 'unchanged'; revision: Revision }
  | { kind: 'rejected'; rejection: Rejection }

const EMPTY_ROUTES = 'routes: {}\n'
const MAX_HISTORY = 50 // revisions kept for rollback

/** Parse, check and compile `source`; problems carry their line and column. */
export function buildRouteTable(
  source: string, catalog: ModelCatalog, revision: Revision, canaries: (model: string, c: CanaryConfig) => CanaryController,
): { ok: true; table: RouteTable } | { ok: false; problems: ConfigProblem[] } {
  const parsed = parseRoutesSource(source)
  if (!parsed.ok) return parsed
  const semantic = checkRoutes(parsed.parsed.file, catalog)
  if (semantic.length > 0) {
    return { ok: false, problems: inFileOrder(semantic.map((p) => ({ path: p.path.join('.'), ...parsed.parsed.locate(p.path), message: p.message }))) }
  }
  return { ok: true, table: new RouteTable(revision, source, parsed.parsed.file, canaries) }
}

export class RoutesHolder {
  readonly path: string
  readonly #catalog: ModelCatalog
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

  private constructor(path: string, catalog: ModelCatalog, initial: RouteTable) {
    this.path = path
    this.#catalog = catalog
    this.#current = initial
  }

  /** Load routes.yaml at start. A missing file means no routes; an invalid one throws with every problem. */
  static async open(path: string, catalog: ModelCatalog): Promise<RoutesHolder> {
    const holder = new RoutesHolder(path, catalog, null as unknown as RouteTable)
    const source = await readSource(path)
    const built = holder.#build(source)
    if (!built.ok) {
      const err = gatewayError('ROUTES_INVALID_AT_START', path, built.problems.length)
      throw Object.assign(err, { problems: built.problems })
    }
    holder.#adopt(built.table)
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

  async #reload(trigger: string): Promise<ReloadOutcome> {
    let outcome: ReloadOutcome
    const source = await readSource(this.path)
    const sha256 = sha256Of(source)
    if (sha256 === this.#current.revision.sha256) {
      outcome = { kind: 'unchanged', revision: this.#current.revision }
    } else {
      const built = this.#build(source)
      if (built.ok) {
        this.#adopt(built.table)
        this.#lastRejection = null
        outcome = { kind: 'applied', revision: built.table.revision }
      } else {
        this.#lastRejection = { at: new Date().toISOString(), sha256, trigger, problems: built.problems }
        outcome = { kind: 'rejected', rejection: this.#lastRejection }
      }
    }
    this.onOutcome?.(outcome, trigger)
    return outcome
  }

  /** Re-check the live table against the models, e.g. after versions were added or removed. */
  recheck(): ConfigProblem[] {
    const built = buildRouteTable(this.#current.source, this.#catalog, this.#current.revision, (m, c) => this.#canaryFor(m, c))
    return built.ok ? [] : built.problems
  }

  #build(source: string): ReturnType<typeof buildRouteTable> {
    const revision: Revision = { number: this.#nextRevision, sha256: sha256Of(source), appliedAt: new Date().toISOString() }
    return buildRouteTable(source, this.#catalog, revision, (m, c) => this.#canaryFor(m, c))
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

async function readSource(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_ROUTES
    throw err
  }
}
