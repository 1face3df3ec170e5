/**
 * The stages the gateway needs synchronously (routes.yaml validation refuses live traffic to
 * an Archived version; the catalog counts versions by stage): a copy of the store's table,
 * replaced after every change this process makes and every few seconds, so that a change
 * approved on another replica is seen here too.
 */
import type { Stage } from './stages.js'
import type { VersionStage } from './operations.js'

export class StageCache {
  #byKey = new Map<string, VersionStage>()

  replace(stages: readonly VersionStage[]): void {
    this.#byKey = new Map(stages.map((s) => [`${s.model}/${s.version}`, s]))
  }

  get(model: string, version: string): VersionStage | undefined {
    return this.#byKey.get(`${model}/${version}`)
  }

  stageOf(model: string, version: string): Stage | undefined {
    return this.get(model, version)?.stage
  }

  countsFor(model: string): Partial<Record<Stage, number>> {
    const counts: Partial<Record<Stage, number>> = {}
    for (const s of this.#byKey.values()) if (s.model === model) counts[s.stage] = (counts[s.stage] ?? 0) + 1
    return counts
  }
}
