/**
 * Drift from rollups (issue #18.4): each profiled version's answered records counted in its
 * profile's bins a minute, by the store writer as it writes them (store/drift-rollups.ts), so
 * that drift over a million records reads a few rows a minute instead of every record's JSON.
 *
 * DriftRollups lives on the store worker. It holds the profiles the writer counts with, and
 * when a profile is set or replaced it counts the version's records stored before it, a chunk
 * of minutes a transaction, in the background:
 *
 *   ts ─────────────────────────────┬──────────────────────────────────▶
 *        counted (rebuild or writer) │ through: left to the rebuild, which moves it on
 *
 * The writer counts a record only below `through` (or always, once it is null), and the
 * rebuild counts what is stored at and past it; both run alone (exclusive), so each record
 * is counted once. Other processes' writers (replicas, workers) keep the same rows: each
 * batch's transaction reads the states first and `follow`s them, reading a profile another
 * process set; a reset or a rebuild step locks the states first (store/drift-rollups.ts), and
 * a step goes on from the `through` in the store, wherever its last step left it. Until
 * `through` is null the drift endpoint counts the records (drift-raw.ts).
 * The counting here is the full computation's (drift-sql.ts valueOf, counted): a missing or
 * wrong-typed value (a boolean where a number is wanted, too) is not counted, and a categorical
 * value not in the profile is (other).
 */
import { DRIFT_BINS_A_ROW, DRIFT_BIN_COLUMNS, DRIFT_UPSERT_ROW_SQL, driftStateOf, lockDriftStates, RECORDS_COL } from '../store/drift-rollups.js'
import type { DriftCounter, DriftRollupRow, DriftRollupState } from '../store/drift-rollups.js'
import { sql } from '../store/operation.js'
import type { Operation } from '../store/operation.js'
import type { StoredInference } from '../store/records.js'
import type { Store } from '../store/store.js'
import { columnsOf, countsByMinute, getProfile, listProfiles, MINUTE_MS } from './drift-sql.js'
import type { CountedColumn, StoredProfile, WindowCounts, WindowFilter } from './drift-sql.js'
import { binOf, categoryOf } from './profile.js'

const REBUILD_RECORDS = 20_000 // records a rebuild transaction counts, about: the writer waits for one at most
const END_OF_TIME = Number.MAX_SAFE_INTEGER

/** A profile's columns made ready to bin a record's values. */
interface Binning {
  readonly columns: readonly CountedColumn[]
  /** Categorical columns' bins by value text. */
  readonly indexes: readonly (ReadonlyMap<string, number> | null)[]
  readonly hasFeatures: boolean
}

/** What the writer counts a version with. `through` null: every record; else those with ts below it. */
interface Counting extends Binning {
  readonly profileAt: number
  through: number | null
}

const keyOf = (model: string, version: string) => `${model}\u0000${version}`
const minuteOf = (ts: number) => Math.floor(ts / MINUTE_MS) * MINUTE_MS

export class DriftRollups implements DriftCounter {
  readonly #versions = new Map<string, Counting>()
  #store: Store | null = null
  #queue: Promise<unknown> = Promise.resolve()
  #rebuilding: Promise<void> | null = null
  readonly #rebuildRecords: number

  /** `rebuildRecords`: records a rebuild transaction counts, about (smaller in tests, to see a rebuild under way). */
  constructor(options: { rebuildRecords?: number } = {}) {
    this.#rebuildRecords = options.rebuildRecords ?? REBUILD_RECORDS
  }

  /** Start counting on `store` (opened and migrated), with the profiles it holds; resumes rebuilds. */
  async attach(store: Store): Promise<void> {
    this.#store = store
    store.countDriftWith(this)
    await this.refresh()
  }

  /** Read the profiles again (one was set or replaced): a new one's rows are emptied and rebuilt. */
  async refresh(): Promise<void> {
    const store = this.#store
    if (store === null) return
    await this.exclusive(async () => {
      const states = await store.run(readStates(), 'write')
      const profiled = new Set(states.map((s) => keyOf(s.profile.model, s.profile.version)))
      for (const key of this.#versions.keys()) if (!profiled.has(key)) this.#versions.delete(key)
      // a version at a time, as its reset commits: should one fail, those before it count in their new bins, the others in their old
      for (const { profile, state } of states) {
        const through = state?.profileAt === profile.updated_at ? state.through : await store.run(resetRollups(profile), 'write')
        this.#versions.set(keyOf(profile.model, profile.version), counting(profile, through))
      }
    })
    this.#rebuilding ??= this.#rebuild().finally(() => (this.#rebuilding = null))
  }

  /** Resolves once every version's rollups are complete (tests, the benchmark). */
  async rebuilt(): Promise<void> {
    while (this.#rebuilding !== null) await this.#rebuilding
  }

  follow(states: readonly DriftRollupState[]): Operation<void> | null {
    const unknown: DriftRollupState[] = []
    const stated = new Set<string>()
    for (const s of states) {
      const key = keyOf(s.model, s.version)
      stated.add(key)
      const c = this.#versions.get(key)
      if (c !== undefined && c.profileAt === s.profileAt) c.through = s.through // a rebuild, here or in another process, moved it on
      else unknown.push(s)
    }
    for (const key of this.#versions.keys()) if (!stated.has(key)) this.#versions.delete(key) // its profile was removed, or not yet reset
    return unknown.length === 0 ? null : this.#adopt(unknown)
  }

  /** Profiles set or replaced through another process: counted in from this batch on. */
  *#adopt(states: readonly DriftRollupState[]): Operation<void> {
    for (const s of states) {
      const key = keyOf(s.model, s.version)
      let profile: StoredProfile | null
      try {
        profile = yield* getProfile(s.model, s.version)
      } catch {
        profile = null // a profile stored in a form this version does not read: not counted
      }
      // replaced again and not yet reset: left to the reset, which counts every record again
      if (profile === null || profile.updated_at !== s.profileAt) this.#versions.delete(key)
      else this.#versions.set(key, counting(profile, s.through))
    }
  }

  wants(rows: readonly StoredInference[]): boolean {
    if (this.#versions.size === 0) return false
    for (const r of rows) if (this.#versions.has(keyOf(r.model, r.version))) return true
    return false
  }

  count(rows: readonly StoredInference[], isNew: ReadonlySet<string> | null): DriftRollupRow[] {
    const groups: Group[] = []
    let last: Group | null = null
    for (const r of rows) {
      if (r.status !== 200 || (isNew !== null && !isNew.has(r.record_id))) continue
      const minute = minuteOf(r.ts)
      let g: Group | null | undefined = last !== null && last.minute === minute && last.version === r.version && last.model === r.model ? last : null
      if (g === null) {
        const c = this.#versions.get(keyOf(r.model, r.version))
        if (c === undefined) continue
        g = groups.find((x) => x.minute === minute && x.version === r.version && x.model === r.model)
        if (g === undefined) groups.push((g = { model: r.model, version: r.version, minute, c, records: 0, bins: c.columns.map(({ bins }) => new Array<number>(bins.counts.length).fill(0)) }))
        last = g
      }
      if (g.c.through !== null && r.ts >= g.c.through) continue // the rebuild counts it
      g.records++
      addRecord(g.bins, g.c, r.inputs, r.score)
    }
    return groups.flatMap(rowsOf)
  }

  exclusive<T>(write: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(write)
    this.#queue = run.catch(() => {})
    return run
  }

  /** A chunk a transaction, alone, until every version is complete; a failure waits for the next refresh. */
  async #rebuild(): Promise<void> {
    for (;;) {
      const store = this.#store
      if (store === null) return
      const pending = [...this.#versions.entries()].find(([, c]) => c.through !== null)
      if (pending === undefined) return
      const [key, c] = pending
      const stopped = await this.exclusive(async () => {
        if (this.#versions.get(key) !== c) return // refreshed meanwhile
        const [model, version] = key.split('\u0000')
        c.through = await store.run(rebuildStep(model, version, c, this.#rebuildRecords), 'write')
      }).catch(() => 'stopped' as const) // the store is down: the rebuild goes on from `through` at the next refresh (attach)
      if (stopped === 'stopped') return
      await new Promise((resolve) => setImmediate(resolve)) // the writer's next batch between two chunks
    }
  }
}

interface Group {
  readonly model: string
  readonly version: string
  readonly minute: number
  readonly c: Counting
  records: number
  readonly bins: number[][]
}

function binningOf(columns: readonly CountedColumn[]): Binning {
  return {
    columns,
    indexes: columns.map(({ bins }) => (bins.kind === 'categorical' ? new Map(bins.values.map((v, j) => [v, j])) : null)),
    hasFeatures: columns.some((c) => !c.isScore),
  }
}

const counting = (profile: StoredProfile, through: number | null): Counting => ({ ...binningOf(columnsOf(profile.profile)), profileAt: profile.updated_at, through })

/**
 * A record's values into `counts`, as drift-sql.ts counts them: the inputs (JSON text, or an
 * object where PostgreSQL's driver parsed them) read once, each column binned.
 */
function addRecord(counts: number[][], b: Binning, inputsValue: unknown, score: number | null): void {
  const { columns, indexes } = b
  let inputs: Record<string, unknown> | null = null
  if (b.hasFeatures && inputsValue !== null) {
    try {
      const parsed: unknown = typeof inputsValue === 'string' ? JSON.parse(inputsValue) : inputsValue
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) inputs = parsed as Record<string, unknown>
    } catch {
      // text the store cannot read as JSON either: no feature counted
    }
  }
  for (let k = 0; k < columns.length; k++) {
    const { bins, isScore } = columns[k]
    const value = isScore ? score : inputs === null ? undefined : inputs[bins.feature]
    if (bins.kind === 'numeric') {
      if (typeof value === 'number') counts[k][binOf(bins.edges, value)]++
    } else if (value !== null && value !== undefined) {
      const text = typeof value === 'object' ? JSON.stringify(value) : categoryOf(value as string | number | boolean)
      counts[k][indexes[k]!.get(text) ?? bins.values.length]++
    }
  }
}

/**
 * A window's records counted in JavaScript as the writer counts them: the partial minutes at a
 * window's ends, where SQLite's reads of each feature from the JSON cost about 48 µs a record
 * (drift-sql.ts windowCounts) and a JSON.parse and the bins here about 3.
 */
export function* recordCounts(f: WindowFilter, columns: readonly CountedColumn[]): Operation<WindowCounts> {
  const rows = yield sql('SELECT inputs, score FROM inferences WHERE model = ? AND version = ? AND ts >= ? AND ts < ? AND status = 200', f.model, f.version, f.since, f.until)
  const b = binningOf(columns)
  const counts = columns.map(({ bins }) => new Array<number>(bins.counts.length).fill(0))
  for (const r of rows) addRecord(counts, b, r.inputs ?? null, r.score === null || r.score === undefined ? null : Number(r.score))
  return { records: rows.length, columns: columns.map(({ bins }, k) => ({ feature: bins.feature, n: counts[k].reduce((a, x) => a + x, 0), counts: counts[k] })) }
}

/** A group's rows: the records, then each column's bins DRIFT_BINS_A_ROW a row (rows of zeros left out). */
function rowsOf(g: { model: string; version: string; minute: number; records: number; bins: readonly (readonly number[])[] }): DriftRollupRow[] {
  if (g.records === 0) return []
  const rows: DriftRollupRow[] = [[g.model, g.version, g.minute, RECORDS_COL, 0, g.records, ...new Array<number>(DRIFT_BINS_A_ROW - 1).fill(0)]]
  g.bins.forEach((bins, col) => {
    for (let chunk = 0; chunk * DRIFT_BINS_A_ROW < bins.length; chunk++) {
      const part = Array.from({ length: DRIFT_BINS_A_ROW }, (_, j) => bins[chunk * DRIFT_BINS_A_ROW + j] ?? 0)
      if (part.some((n) => n !== 0)) rows.push([g.model, g.version, g.minute, col, chunk, ...part])
    }
  })
  return rows
}

/** Every profile with its rollups' state (null where it has none yet). */
function* readStates(): Operation<{ profile: StoredProfile; state: DriftRollupState | null }[]> {
  const out = []
  for (const { model, version } of yield* listProfiles()) {
    let profile: StoredProfile | null
    try {
      profile = yield* getProfile(model, version)
    } catch {
      continue // a profile stored in a form this version does not read: not counted, and its drift answer says why
    }
    if (profile === null) continue
    out.push({ profile, state: yield* driftStateOf(model, version) })
  }
  return out
}

/** A new profile: its version's rows emptied, the rebuild to start at its first record's minute (null: no records, complete). */
function* resetRollups(p: StoredProfile): Operation<number | null> {
  yield lockDriftStates
  yield sql('DELETE FROM rollup_drift WHERE model = ? AND version = ?', p.model, p.version)
  const [first] = yield sql('SELECT min(ts) AS ts FROM inferences WHERE model = ? AND version = ?', p.model, p.version)
  const through = first?.ts === null || first?.ts === undefined ? null : minuteOf(Number(first.ts))
  yield sql(`INSERT INTO drift_rollup_state (model, version, profile_at, through) VALUES (?, ?, ?, ?)
    ON CONFLICT (model, version) DO UPDATE SET profile_at = excluded.profile_at, through = excluded.through`, p.model, p.version, p.updated_at, through)
  return through
}

/** The next `records` records' whole minutes from `through` counted into the rows; the new `through` (null: done). */
function* rebuildStep(model: string, version: string, c: Counting, records: number): Operation<number | null> {
  yield lockDriftStates
  // where the store says it is: another process may have moved it on, or replaced the profile
  const state = yield* driftStateOf(model, version)
  if (state === null || state.profileAt !== c.profileAt || state.through === null) return null
  const since = state.through
  const [next] = yield sql('SELECT ts FROM inferences WHERE model = ? AND version = ? AND ts >= ? ORDER BY ts LIMIT 1 OFFSET ?', model, version, since, records)
  const until = next === undefined ? END_OF_TIME : Math.max(minuteOf(Number(next.ts)), since + MINUTE_MS)
  const minutes = yield* countsByMinute({ model, version, since, until }, c.columns)
  const rows = minutes.flatMap(({ minute, counts }) => rowsOf({ model, version, minute, records: counts.records, bins: counts.columns.map((col) => col.counts) }))
  for (const row of rows) yield upsertRow(row)
  const through = until === END_OF_TIME ? null : until
  yield sql('UPDATE drift_rollup_state SET through = ? WHERE model = ? AND version = ? AND profile_at = ?', through, model, version, c.profileAt)
  return through
}

const upsertRow = (row: DriftRollupRow) => sql(DRIFT_UPSERT_ROW_SQL, ...row)

/** Whether a version's rollups hold every record in `profile`'s bins. */
export function* isRollupComplete(profile: StoredProfile): Operation<boolean> {
  const state = yield* driftStateOf(profile.model, profile.version)
  return state !== null && state.profileAt === profile.updated_at && state.through === null
}

/** Counts of whole minutes `f` (since and until on minute boundaries) from the rollups, in the columns' bins. */
export function* rollupCounts(f: WindowFilter, columns: readonly CountedColumn[]): Operation<WindowCounts> {
  const rows = yield sql(`SELECT col, chunk, ${DRIFT_BIN_COLUMNS.map((b) => `sum(${b}) AS ${b}`).join(', ')} FROM rollup_drift
    WHERE model = ? AND version = ? AND minute >= ? AND minute < ? GROUP BY col, chunk`, f.model, f.version, f.since, f.until)
  const bins = columns.map(({ bins }) => new Array<number>(bins.counts.length).fill(0))
  let records = 0
  for (const row of rows) {
    const col = Number(row.col)
    if (col === RECORDS_COL) {
      records += Number(row.b0)
      continue
    }
    const chunk = Number(row.chunk)
    for (let j = 0; j < DRIFT_BINS_A_ROW && chunk * DRIFT_BINS_A_ROW + j < bins[col].length; j++) bins[col][chunk * DRIFT_BINS_A_ROW + j] += Number(row[`b${j}`])
  }
  return { records, columns: columns.map(({ bins: b }, k) => ({ feature: b.feature, n: bins[k].reduce((a, x) => a + x, 0), counts: bins[k] })) }
}
