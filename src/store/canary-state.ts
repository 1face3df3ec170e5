/**
 * Canaries in the store (migration 5): one state a canary for every replica, each replica's
 * counts of each step, and the lease of the one replica that judges them (router/canary-judge.ts).
 *
 *   every replica, each second            sync: its counts of the step it routes at; takes or
 *                                          renews the lease if free or its own; the holder gets
 *                                          every replica's counts of each canary's step back
 *   the holder, on a verdict              judge: the new state, written only if it still holds
 *                                          the lease and the state is still the one it judged
 *   every replica, every half second      read (its read-only connection): the state to follow
 *
 * Times are the store's clock (dialect nowMs), so replicas on several machines agree on when a
 * lease expires and when a step began.
 */
import { namedOperations, reads, sql, writes } from './operation.js'
import type { DialectSql, Operation } from './operation.js'

export const JUDGE_LEASE = 'canary-judge'

export type CanaryStatus = 'progressing' | 'halted' | 'complete' | 'rolled-back'

export interface CanaryEvent {
  readonly at: string
  readonly kind: 'started' | 'step' | 'halted' | 'complete' | 'rolled-back'
  readonly percent: number
  readonly detail: string
}

/** Where a canary is: the same on every replica once it is in the store. */
export interface CanaryState {
  readonly step: number
  readonly status: CanaryStatus
  readonly stepStartedMs: number
  readonly events: readonly CanaryEvent[]
}

/** What the candidate did in one step, on one replica or summed over all of them. */
export interface StepCounts {
  readonly requests: number
  readonly errors: number
  /** Answers slower than rollback.p99_ms: the p99 is over the limit when more than 1 % are. */
  readonly slow: number
  readonly compared: number
  readonly disagreed: number
  /** The p99 of the answers' latencies; over several replicas, the highest replica's. */
  readonly p99Ms: number
}

/** A canary this replica routes by, as it first appears: its start, and its counts of the step it routes at. */
export interface CanaryReport {
  readonly key: string
  readonly model: string
  /** The 'started' event's percent and detail; the store adds the time. */
  readonly started: { readonly percent: number; readonly detail: string }
  readonly step: number
  readonly counts: StepCounts
}

export interface StoredCanary {
  readonly key: string
  readonly state: CanaryState
  /** Every replica's counts of the state's step, summed. */
  readonly totals: StepCounts
}

export interface SyncResult {
  readonly nowMs: number
  /** This replica holds the judge's lease: `canaries` are for it to judge. */
  readonly isJudge: boolean
  /** The canaries this sync put in the store first: their 'started' event is this replica's to report. */
  readonly created: readonly string[]
  readonly canaries: readonly StoredCanary[]
}

const now: DialectSql = (d) => sql(`SELECT ${d.nowMs} AS now`)

function* storeNow(): Operation<number> {
  const [row] = yield now
  return Number(row.now)
}

const toState = (r: Record<string, unknown>): CanaryState => ({
  step: Number(r.step), status: r.status as CanaryStatus, stepStartedMs: Number(r.step_started_at), events: JSON.parse(String(r.events)) as CanaryEvent[],
})

function* stored(keys: readonly string[]): Operation<StoredCanary[]> {
  if (keys.length === 0) return []
  const marks = keys.map(() => '?').join(', ')
  const rows = yield sql(`SELECT * FROM canaries WHERE key IN (${marks})`, ...keys)
  const sums = yield sql(`
    SELECT c.key, sum(n.requests) AS requests, sum(n.errors) AS errors, sum(n.slow) AS slow, sum(n.compared) AS compared,
           sum(n.disagreed) AS disagreed, max(n.p99_ms) AS p99_ms
    FROM canaries c JOIN canary_counts n ON n.key = c.key AND n.step = c.step
    WHERE c.key IN (${marks}) GROUP BY c.key`, ...keys)
  const totals = new Map(sums.map((s) => [String(s.key), {
    requests: Number(s.requests), errors: Number(s.errors), slow: Number(s.slow), compared: Number(s.compared), disagreed: Number(s.disagreed), p99Ms: Number(s.p99_ms),
  }]))
  return rows.map((r) => ({ key: String(r.key), state: toState(r), totals: totals.get(String(r.key)) ?? { requests: 0, errors: 0, slow: 0, compared: 0, disagreed: 0, p99Ms: 0 } }))
}

/** Who holds the judge's lease now; null when nobody does (never taken, or expired). */
function* leaseHolder(nowMs: number): Operation<string | null> {
  const [row] = yield sql('SELECT holder, expires_at FROM leases WHERE name = ?', JUDGE_LEASE)
  return row === undefined || Number(row.expires_at) < nowMs ? null : String(row.holder)
}

/**
 * A replica's second: its canaries started if new, its counts written, the lease taken or
 * renewed if free or its own, and, for the holder, every replica's counts to judge.
 */
export function* sync(replica: string, leaseMs: number, reports: readonly CanaryReport[]): Operation<SyncResult> {
  const nowMs = yield* storeNow()
  const created: string[] = []
  for (const r of reports) {
    const event: CanaryEvent = { at: new Date(nowMs).toISOString(), kind: 'started', percent: r.started.percent, detail: r.started.detail }
    const inserted = yield sql(`INSERT INTO canaries (key, model, step, status, step_started_at, events, updated_at) VALUES (?, ?, 0, 'progressing', ?, ?, ?)
      ON CONFLICT (key) DO NOTHING RETURNING key`, r.key, r.model, nowMs, JSON.stringify([event]), nowMs)
    if (inserted.length > 0) created.push(r.key)
    const c = r.counts
    if (c.requests === 0 && c.compared === 0) continue
    // a replica that has not followed the step yet: its counts are of a step no longer judged
    const [inForce] = yield sql('SELECT step FROM canaries WHERE key = ?', r.key)
    if (Number(inForce.step) !== r.step) continue
    yield sql(`INSERT INTO canary_counts (key, step, replica, requests, errors, slow, compared, disagreed, p99_ms, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (key, step, replica) DO UPDATE SET requests = excluded.requests, errors = excluded.errors, slow = excluded.slow,
        compared = excluded.compared, disagreed = excluded.disagreed, p99_ms = excluded.p99_ms, updated_at = excluded.updated_at`,
    r.key, r.step, replica, c.requests, c.errors, c.slow, c.compared, c.disagreed, c.p99Ms, nowMs)
  }
  // one row, taken when free (expired) or renewed by its holder; PostgreSQL decides racing upserts row by row
  yield sql(`INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.holder = excluded.holder OR leases.expires_at < ?`, JUDGE_LEASE, replica, nowMs + leaseMs, nowMs)
  const isJudge = (yield* leaseHolder(nowMs)) === replica
  return { nowMs, isJudge, created, canaries: isJudge ? yield* stored(reports.map((r) => r.key)) : [] }
}

/**
 * The holder's verdict: the canary's next state, written only while `replica` holds the lease
 * and the canary is still at the step and status it judged (a lease lost meanwhile, to a
 * replica that judged first, leaves the other's state). Resolves to whether it was written.
 */
export function* judge(replica: string, key: string, judged: Pick<CanaryState, 'step' | 'status'>, next: CanaryState): Operation<boolean> {
  const nowMs = yield* storeNow()
  if ((yield* leaseHolder(nowMs)) !== replica) return false
  const [row] = yield sql('SELECT step, status FROM canaries WHERE key = ?', key)
  if (row === undefined || Number(row.step) !== judged.step || row.status !== judged.status) return false
  yield sql('UPDATE canaries SET step = ?, status = ?, step_started_at = ?, events = ?, updated_at = ? WHERE key = ?',
    next.step, next.status, next.stepStartedMs, JSON.stringify(next.events), nowMs, key)
  // only the step in force is judged: the rows of those before would pile up, one a replica a step
  if (next.step !== judged.step) yield sql('DELETE FROM canary_counts WHERE key = ? AND step <> ?', key, next.step)
  return true
}

/** The canaries to follow, and the judge's lease holder (null when it has lapsed). */
export function* read(keys: readonly string[]): Operation<{ canaries: StoredCanary[]; judge: string | null }> {
  const nowMs = yield* storeNow()
  return { canaries: yield* stored(keys), judge: yield* leaseHolder(nowMs) }
}

/** The canaries' operations the store worker runs by name. */
export const CANARY_OPERATIONS = namedOperations('canaries', {
  sync: writes(sync),
  judge: writes(judge),
  read: reads(read),
})
