/**
 * The gateway's side of the lifecycle: runs the operations in the store (store calls, through
 * the store worker), keeps the stage cache current, knows which versions take live traffic
 * now, and appends the gateway's own events (routes applied or rejected, rollbacks, versions
 * loaded or failed) to the activity log.
 */
import type { Logger } from '../log.js'
import type { ModelPool } from '../runtime/model-pool.js'
import type { StoreCalls } from '../store/store-client.js'
import type { ActivityEntry, NewActivity, StageRequest, VersionStage } from './operations.js'
import { LIFECYCLE_OPERATIONS as OPS } from './registry.js'
import { StageCache } from './stage-cache.js'
import type { Stage } from './stages.js'

const REFRESH_MS = 5_000 // how soon a change made on another replica is seen here

/** model/version → how it takes live traffic (router/live-traffic.ts). */
export interface LiveTraffic {
  /** Through this replica's route table. */
  here(): Record<string, string>
  /**
   * Through the routes revision in force in the store, which another replica may have applied
   * before this one: what the stage guard checks (no live traffic to an Archived version).
   */
  inForce(): Promise<Record<string, string>>
}

export class Lifecycle {
  readonly stages = new StageCache()
  readonly #store: StoreCalls
  readonly #liveTraffic: LiveTraffic
  readonly #logger: Logger
  readonly #timer: NodeJS.Timeout | null

  constructor(store: StoreCalls, liveTraffic: LiveTraffic, logger: Logger) {
    this.#store = store
    this.#liveTraffic = liveTraffic
    this.#logger = logger
    this.#timer = store.isEnabled ? setInterval(() => void this.refresh('when idle'), REFRESH_MS).unref() : null
  }

  get available(): boolean {
    return this.#store.isEnabled
  }

  /** Every version in the repository is in the registry (new ones as Unassigned). */
  async register(pool: ModelPool): Promise<void> {
    if (!this.available) return
    const versions = pool.models().flatMap((m) => m.versionNames().map((version) => ({ model: m.name, version })))
    try {
      this.stages.replace(await this.#store.run(OPS.registerVersions, versions))
    } catch (err) {
      this.#logger.warn('could not register versions in the lifecycle store; stages are not known yet', { err: String((err as Error)?.message ?? err) })
    }
  }

  /** The stages as the store has them: 'now' after a change made here, 'when idle' for the periodic read (StoreCalls.runInBackground). */
  async refresh(when: 'now' | 'when idle' = 'now'): Promise<void> {
    try {
      this.stages.replace(await (when === 'now' ? this.#store.run(OPS.listStages) : this.#store.runInBackground(OPS.listStages)))
    } catch {
      // the store is down: the cache keeps the last stages it saw
    }
  }

  /** The versions this replica sends live traffic to. */
  liveTraffic(): Record<string, string> {
    return this.#liveTraffic.here()
  }

  async request(model: string, version: string, to: Stage, actor: string, comment: string | null): Promise<StageRequest> {
    const live = await this.#liveTraffic.inForce()
    return this.#store.run(OPS.requestStage, { model, version, to, actor, comment, liveTraffic: live[`${model}/${version}`] ?? null })
  }

  async decide(id: string, action: 'approve' | 'reject' | 'cancel', actor: string, comment: string | null): Promise<StageRequest> {
    const decided = await this.#store.run(OPS.decide, { id, action, actor, comment, liveTraffic: await this.#liveTraffic.inForce() })
    if (action === 'approve') await this.refresh()
    return decided
  }

  async setLock(model: string, version: string, locked: boolean, actor: string, comment: string | null): Promise<VersionStage> {
    const stage = await this.#store.run(OPS.setLock, model, version, locked, actor, comment)
    await this.refresh()
    return stage
  }

  list(filter: { model?: string; status?: string }): Promise<StageRequest[]> {
    return this.#store.run(OPS.listRequests, filter)
  }

  activity(filter: { model?: string; since?: number; limit: number }): Promise<ActivityEntry[]> {
    return this.#store.run(OPS.listActivity, filter)
  }

  /** Append the gateway's own events; never fails the caller (an unavailable store is logged). */
  record(entry: NewActivity): void {
    if (!this.available) return
    this.#store.run(OPS.appendActivity, [entry]).catch((err: unknown) => {
      this.#logger.warn('could not append to the activity log', { kind: entry.kind, err: String((err as Error)?.message ?? err) })
    })
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
  }
}
