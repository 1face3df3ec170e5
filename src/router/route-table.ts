/**
 * The compiled, frozen route table (STYLE.md §4 step 4) and the per-request decision.
 * Everything a request needs is computed here once: weight prefix sums, sticky bucket
 * tables, key readers, match rules. A request reads one table reference and never sees a
 * half-applied config: a reload builds a new table and swaps the reference.
 *
 * Decision order for a routed request:  pin  ->  match (first hit)  ->  canary | champion | split
 *
 */
import type { CanaryConfig, MatchRule, RouteConfig, RoutesFile } from '../config/routes-schema.js'
import type { StoredRevision as Revision } from '../store/route-revisions.js'
import type { CanaryController } from './canary.js'
import { compileKeyReader } from './request-facts.js'
import type { KeyReader, RequestFacts } from './request-facts.js'
import { BUCKETS, stickyHash } from './sticky.js'
import { WeightedPick } from './weighted-pick.js'

/** How a version came to answer a routed request. */
export type DecisionReason = 'split' | 'sticky' | 'match' | 'pin' | 'champion' | 'canary-baseline' | 'canary-candidate' | 'default'

export interface Decision {
  readonly version: string
  readonly reason: DecisionReason
  /** The sticky key's bucket, when the route is sticky and the request has the key. */
  readonly bucket: number | null
  /** The sticky key's hash (stickyHash), when there is a key. */
  readonly keyHash?: number
}

export interface Mirror {
  readonly version: string
  /** Percent of routed requests that this version also scores. */
  readonly percent: number
}

/** An applied routes file: numbered by the store for every replica (store/route-revisions.ts), or by this process without one. */
export type { StoredRevision as Revision } from '../store/route-revisions.js'

interface CompiledMatch {
  readonly to: string
  readonly test: (facts: RequestFacts) => boolean
}

function compileMatch(rule: MatchRule): CompiledMatch {
  const checks: ((f: RequestFacts) => boolean)[] = []
  const add = (read: (f: RequestFacts, name: string) => string | undefined, conditions: Record<string, unknown> | undefined) => {
    for (const [name, expected] of Object.entries(conditions ?? {})) {
      const allowed = new Set((Array.isArray(expected) ? expected : [expected]).map(String))
      checks.push((f) => {
        const v = read(f, name)
        return v !== undefined && allowed.has(v)
      })
    }
  }
  add((f, n) => f.header(n.toLowerCase()), rule.if.header)
  add((f, n) => f.field(n), rule.if.field)
  return { to: rule.to, test: (f) => checks.every((c) => c(f)) }
}

export class CompiledRoute {
  readonly model: string
  readonly config: RouteConfig
  readonly #split: WeightedPick | null
  readonly #champion: string | null
  readonly canary: CanaryController | null
  readonly #sticky: KeyReader | null
  readonly #pin: KeyReader | null
  readonly #match: readonly CompiledMatch[]
  readonly labels: ReadonlyMap<string, string>
  readonly shadows: readonly Mirror[]
  readonly challengers: readonly Mirror[]
  /** Whether deciding reads the request at all (pin, match or sticky); if not, no facts are built. */
  readonly readsRequest: boolean
  /** Whether an answer may be mirrored (shadows, challengers, a canary's baseline check); if not, nothing is kept for it. */
  readonly hasMirrors: boolean
  /** A random split's decisions, one a version, shared: they carry no bucket or key. */
  readonly #splitDecisions: readonly Decision[]

  constructor(model: string, config: RouteConfig, canary: CanaryController | null) {
    this.model = model
    this.config = config
    this.#split = config.split ? new WeightedPick(config.split) : null
    this.#champion = config.champion ?? null
    this.canary = canary
    this.#sticky = config.sticky ? compileKeyReader(config.sticky) : null
    this.#pin = config.pin ? compileKeyReader(config.pin) : null
    this.#match = (config.match ?? []).map(compileMatch)
    this.labels = new Map(Object.entries(config.labels ?? {}))
    this.shadows = Object.entries(config.shadow ?? {}).map(([version, percent]) => ({ version, percent }))
    this.challengers = Object.entries(config.challengers ?? {}).map(([version, percent]) => ({ version, percent }))
    this.readsRequest = this.#pin !== null || this.#match.length > 0 || this.#sticky !== null
    this.hasMirrors = this.shadows.length > 0 || this.challengers.length > 0 || canary !== null
    this.#splitDecisions = (this.#split?.versions ?? []).map((version) => Object.freeze({ version, reason: 'split', bucket: null }))
    Object.freeze(this)
  }

  /**
   * The versions this route sends live traffic to, the answers clients get: split weights
   * above 0, the champion, the canary's baseline and candidate, match targets and labels.
   * Shadows and challengers answer nobody and are not live.
   */
  liveVersions(): Set<string> {
    const live = new Set<string>()
    for (const [v, w] of Object.entries(this.config.split ?? {})) if (w > 0) live.add(v)
    if (this.#champion !== null) live.add(this.#champion)
    if (this.config.canary) live.add(this.config.canary.baseline).add(this.config.canary.candidate)
    for (const m of this.#match) live.add(m.to)
    for (const v of this.labels.values()) live.add(v)
    return live
  }

  /** Whether the route names the version anywhere: live, shadow, challenger, or a split weight of 0. */
  names(version: string): boolean {
    return this.liveVersions().has(version) || version in (this.config.split ?? {})
      || this.shadows.some((m) => m.version === version) || this.challengers.some((m) => m.version === version)
  }

  /** The share of routed traffic each version is configured to take now, in percent (split, champion, or the canary's step). */
  weightsNow(): Map<string, number> {
    if (this.canary !== null) {
      return new Map([[this.canary.config.baseline, 100 - this.canary.percent], [this.canary.config.candidate, this.canary.percent]])
    }
    if (this.#champion !== null) return new Map([[this.#champion, 100]])
    return new Map(Object.entries(this.config.split ?? {}))
  }

  /**
   * Which version answers, or `{ pinned }` when the request pins one: the caller checks that
   * the pinned version exists and refuses an unknown one rather than silently rerouting.
   */
  decide(facts: RequestFacts): Decision | { pinned: string } {
    if (this.#pin !== null) {
      const pinned = this.#pin(facts)
      if (pinned !== undefined && pinned !== '') return { pinned }
    }
    for (const m of this.#match) if (m.test(facts)) return { version: m.to, reason: 'match', bucket: null }
    const key = this.#sticky?.(facts)
    if (key === undefined) return this.#pick(null, undefined)
    const keyHash = stickyHash(this.model, key)
    return this.#pick(keyHash % BUCKETS, keyHash)
  }

  #pick(bucket: number | null, keyHash: number | undefined): Decision {
    if (this.canary !== null) {
      const candidate = this.canary.pick(bucket)
      return { version: candidate.version, reason: candidate.isCandidate ? 'canary-candidate' : 'canary-baseline', bucket, keyHash }
    }
    if (this.#champion !== null) return { version: this.#champion, reason: 'champion', bucket, keyHash }
    if (bucket === null) return this.#splitDecisions[this.#split!.pickIndex(null)]
    return { version: this.#split!.pick(bucket), reason: 'sticky', bucket, keyHash }
  }
}

/** The whole compiled config: one frozen object per applied revision. */
export class RouteTable {
  readonly revision: Revision
  readonly source: string
  readonly file: RoutesFile
  readonly routes: ReadonlyMap<string, CompiledRoute>

  constructor(revision: Revision, source: string, file: RoutesFile, canaries: (model: string, config: CanaryConfig) => CanaryController) {
    this.revision = revision
    this.source = source
    this.file = file
    this.routes = new Map(Object.entries(file.routes).map(([model, config]) => [
      model,
      new CompiledRoute(model, config, config.canary ? canaries(model, config.canary) : null),
    ]))
    Object.freeze(this)
  }
}

