/**
 * The canaries of the route table in force, and, with a store, one judge for every replica
 * (issue #17): each replica hands its counts of the step it routes at to the store every
 * SYNC_MS, and tries to take the judge's lease (a row with a holder and an expiry, renewed on
 * each sync: a holder killed with -9 is replaced once LEASE_MS have passed). The holder judges
 * each canary over every replica's counts and writes its next state; every replica follows
 * the state at the revision poll (REVISION_POLL_MS). Without a store, each canary is judged
 * by this process from its own counts, as before.
 *
 *   replica A ─sync (counts, lease)─▶ store ◀─sync (counts, lease)─ replica B (holder)
 *                                       │  ◀── judge: next state, if B still holds the lease
 *   A and B ◀──── read every 0.5 s ─────┘      (store/canary-state.ts)
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { CanaryConfig } from '../config/routes-schema.js'
import { CANARY_OPERATIONS as OPS, read } from '../store/canary-state.js'
import type { CanaryReport, StepCounts } from '../store/canary-state.js'
import type { Operation } from '../store/operation.js'
import type { StoreCalls } from '../store/store-client.js'
import { applyVerdict, CanaryController, canaryKey, judgeStep } from './canary.js'
import type { CanaryEvent } from './canary.js'
import type { RouteTable } from './route-table.js'

export const SYNC_MS = 1_000 // each replica's counts reach the store, and the lease is renewed, this often
export const LEASE_MS = 3_000 // a judge that stops renewing (killed, partitioned) is replaced after this
const NO_COUNTS: StepCounts = Object.freeze({ requests: 0, errors: 0, slow: 0, compared: 0, disagreed: 0, p99Ms: 0 })

/** The store as the canaries use it: writes through the store worker, reads on this thread's own connection. */
export interface CanaryStoreAccess {
  readonly calls: StoreCalls
  readOnly<T>(op: Operation<T>): Promise<T>
}

export class Canaries {
  readonly #store: CanaryStoreAccess | null
  /** This process among the replicas: host (a pod's name), pid, and a random part, as the lease names it. */
  readonly replica = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`
  #live = new Map<string, CanaryController>()
  #onEvent: ((model: string, event: CanaryEvent) => void) | null = null
  #lastSyncMs = 0
  #isSyncing = false
  #isFollowing = false

  constructor(store: CanaryStoreAccess | null) {
    this.#store = store
  }

  /** Steps, completions and rollbacks this process decides (the activity log); set, it first reports those decided so far here. */
  set onEvent(listener: ((model: string, event: CanaryEvent) => void) | null) {
    this.#onEvent = listener
    for (const c of this.#live.values()) if (!c.isStored) for (const e of c.events) listener?.(c.model, e)
  }

  /** The controller of a canary: the running one when the table keeps it, else a new one. */
  controllerFor(model: string, config: CanaryConfig): CanaryController {
    return this.#live.get(canaryKey(model, config)) ?? new CanaryController(model, config, { isStored: this.#store !== null })
  }

  /** A new table is in force: canaries it no longer runs are dropped; the others keep their state. */
  adopt(table: RouteTable): void {
    const live = new Map<string, CanaryController>()
    for (const route of table.routes.values()) if (route.canary !== null) live.set(route.canary.key, route.canary)
    for (const [key, canary] of live) {
      if (this.#live.has(key)) continue
      canary.onEvent = (e) => this.#onEvent?.(canary.model, e)
      // judged here: it reports what it has recorded so far (its start); in the store, the replica that adds it does
      if (!canary.isStored) for (const e of canary.events) this.#onEvent?.(canary.model, e)
    }
    this.#live = live
  }

  /** On a timer: without a store, each canary judges itself; with one, every SYNC_MS, a sync (and a judgement if this is the judge). */
  tick(): void {
    if (this.#store === null) {
      for (const c of this.#live.values()) c.tick()
      return
    }
    if (this.#isSyncing || Date.now() - this.#lastSyncMs < SYNC_MS) return
    this.#isSyncing = true
    this.#lastSyncMs = Date.now()
    void this.#sync(this.#store).catch(() => undefined).finally(() => (this.#isSyncing = false)) // the store is down: the next sync tries again
  }

  async #sync(store: CanaryStoreAccess): Promise<void> {
    const active = [...this.#live.values()].filter((c) => c.isActive)
    if (active.length === 0) return
    const reports: CanaryReport[] = active.map((c) => ({
      key: c.key, model: c.model, step: c.step, counts: c.localCounts(),
      started: { percent: c.config.steps[0], detail: c.events[0].detail },
    }))
    const result = await store.calls.run(OPS.sync, this.replica, LEASE_MS, reports)
    for (const key of result.created) {
      const c = this.#live.get(key)
      if (c !== undefined) this.#onEvent?.(c.model, { ...c.events[0], at: new Date(result.nowMs).toISOString() })
    }
    for (const { key, state, totals } of result.canaries) {
      const c = this.#live.get(key)
      if (c === undefined) continue
      const verdict = judgeStep(c.config, state, totals, result.nowMs)
      if (verdict.kind === 'stay') continue
      const next = applyVerdict(c.config, state, verdict, result.nowMs)
      if (!(await store.calls.run(OPS.judge, this.replica, key, { step: state.step, status: state.status }, next))) continue
      c.follow(next, next.step === state.step ? totals : NO_COUNTS, this.replica)
      this.#onEvent?.(c.model, next.events[next.events.length - 1])
    }
  }

  /** At the revision poll: every canary of this table where the store says it is. */
  async follow(): Promise<void> {
    const keys = [...this.#live.values()].filter((c) => !c.isSettled).map((c) => c.key)
    if (this.#store === null || this.#isFollowing || keys.length === 0) return
    this.#isFollowing = true
    try {
      const { canaries, judge } = await this.#store.readOnly(read(keys))
      for (const s of canaries) this.#live.get(s.key)?.follow(s.state, s.totals, judge)
    } finally {
      this.#isFollowing = false
    }
  }
}
