/**
 * The shape of routes.yaml, one schema for loading, `switchyard validate` and the JSON
 * Schema editors use (schemas/routes.schema.json, generated from this file).
 *
 * Weights and shadow shares are integer percents, as people read them (STYLE.md §4).
 */
import { z } from 'zod'

const versionId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a version id is a folder name: [A-Za-z0-9][A-Za-z0-9._-]*')
const percent = z.number().int('percents are whole numbers').min(0, 'a percent is at least 0').max(100, 'a percent is at most 100')

/** header:NAME, cookie:NAME or field:NAME (a top-level field of the JSON body). */
export const requestKey = z.string().regex(/^(header|cookie|field):[A-Za-z0-9_.-]+$/, 'use header:NAME, cookie:NAME or field:NAME')

const matchValue = z.union([z.string(), z.number(), z.boolean()])
/** A scalar means equals; a list means in. */
const matchValues = z.record(z.string(), z.union([matchValue, z.array(matchValue).min(1)]))

export const MatchRuleSchema = z.strictObject({
  if: z.strictObject({
    header: matchValues.optional(),
    field: matchValues.optional(),
  }).refine((c) => c.header !== undefined || c.field !== undefined, 'a condition needs header: or field:'),
  to: versionId,
})

export const CanarySchema = z.strictObject({
  baseline: versionId,
  candidate: versionId,
  /** Percent of traffic on the candidate at each step; the last step is usually 100. */
  steps: z.array(percent).min(1),
  /** How long each step lasts, e.g. 30s, 5m, 1h. */
  interval: z.string().regex(/^\d+(ms|s|m|h)$/, 'an interval is a number with ms, s, m or h, e.g. 60s'),
  rollback: z.strictObject({
    error_rate: z.number().min(0).max(1).optional(),
    p99_ms: z.number().positive().optional(),
    disagreement: z.number().min(0).max(1).optional(),
    /** Fewest candidate requests in a step (over every replica) before it is judged: rolled back, or stepped (default 20). */
    min_requests: z.number().int().positive().optional(),
  }).optional(),
})

export const RouteSchema = z.strictObject({
  split: z.record(versionId, percent).optional(),
  sticky: requestKey.optional(),
  pin: requestKey.optional(),
  match: z.array(MatchRuleSchema).optional(),
  shadow: z.record(versionId, percent).optional(),
  labels: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a label is a name: [A-Za-z0-9][A-Za-z0-9._-]*'), versionId).optional(),
  champion: versionId.optional(),
  challengers: z.record(versionId, percent).optional(),
  canary: CanarySchema.optional(),
})

export const RoutesFileSchema = z.strictObject({
  // required: a file without it is a mistake; 'routes: {}' says "no routes" on purpose
  routes: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a route is named after its model'), RouteSchema, {
    error: (issue) => (issue.input === undefined ? "routes.yaml needs a 'routes:' key; write 'routes: {}' for no routes" : undefined),
  }),
}, { error: (issue) => (issue.code === 'invalid_type' ? "routes.yaml must be a mapping with a 'routes:' key" : undefined) })

export type MatchRule = z.infer<typeof MatchRuleSchema>
export type CanaryConfig = z.infer<typeof CanarySchema>
export type RouteConfig = z.infer<typeof RouteSchema>
export type RoutesFile = z.infer<typeof RoutesFileSchema>

/** Keys people reach for that mean something else here: a better message than "unknown key". */
export const RENAMED_KEYS: Readonly<Record<string, string>> = {
  weights: 'split',
  traffic: 'split',
  mirror: 'shadow',
  aliases: 'labels',
  challenger: 'challengers',
  percent: 'shadow: { VERSION: PERCENT }',
}
