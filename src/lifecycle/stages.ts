/** Model version stages (MLflow/Verta registry style) and their usual order. */

export const STAGES = ['Unassigned', 'Development', 'Staging', 'Production', 'Archived'] as const
export type Stage = (typeof STAGES)[number]

/** The usual path: Unassigned → Development → Staging → Production → Archived; Archived may be reached from anywhere. */
const ORDER: Record<Stage, number> = { Unassigned: 0, Development: 1, Staging: 2, Production: 3, Archived: 4 }

export function parseStage(text: unknown): Stage | null {
  if (typeof text !== 'string') return null
  return STAGES.find((s) => s.toLowerCase() === text.toLowerCase()) ?? null
}

/** The stages a move jumps over on the usual path (none for a step forward, a step back, or archiving). */
export function skippedStages(from: Stage, to: Stage): Stage[] {
  if (to === 'Archived' || ORDER[to] <= ORDER[from] + 1) return []
  return STAGES.filter((s) => ORDER[s] > ORDER[from] && ORDER[s] < ORDER[to])
}
