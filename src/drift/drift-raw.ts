/**
 * Everything the drift endpoint needs, from one read snapshot: the bins, the reference's counts
 * and the window's. A window of the version whose own profile gives the bins is counted from
 * its rollups (drift-rollups.ts) once they are complete: whole minutes from the rollups, the
 * partial first and last minute from the records; any other window (another version's records
 * in this profile's bins, or rollups still being rebuilt) by the full computation over the
 * records (drift-sql.ts windowCounts), which the rollups are held equal to.
 */
import { gatewayError } from '../errors.js'
import type { Operation } from '../store/operation.js'
import { isRollupComplete, recordCounts, rollupCounts } from './drift-rollups.js'
import { addCounts, columnsOf, getProfile, MINUTE_MS, profileCounts, windowCounts } from './drift-sql.js'
import type { CountedColumn, DriftRaw, DriftRequest, StoredProfile, WindowCounts, WindowFilter } from './drift-sql.js'

export type CountSource = 'rollups' | 'records'

export function* driftRaw(r: DriftRequest & { readonly isFull?: boolean }): Operation<DriftRaw & { source: CountSource }> {
  const own = yield* getProfile(r.model, r.version)
  const other = r.reference.kind === 'window' || r.reference.version === r.version ? null : yield* getProfile(r.model, r.reference.version)
  const sources: CountSource[] = []
  const count = function* (f: WindowFilter, binsFrom: StoredProfile, columns: readonly CountedColumn[]): Operation<WindowCounts> {
    const isRollups = r.isFull !== true && f.version === binsFrom.version && (yield* isRollupComplete(binsFrom))
    sources.push(isRollups ? 'rollups' : 'records')
    return isRollups ? yield* windowFromRollups(f, columns) : yield* windowCounts(f, columns)
  }
  const source = () => (sources.every((s) => s === 'rollups') ? 'rollups' : 'records')
  if (r.reference.kind === 'profile') {
    const profile = r.reference.version === r.version ? own : other
    if (profile === null) throw gatewayError('DRIFT_NO_REFERENCE', r.model, r.reference.version)
    const columns = columnsOf(profile.profile)
    const live = yield* count(r, profile, columns)
    return { binsFrom: profile, reference: profileCounts(profile.profile, columns), live, source: source() }
  }
  const binsFrom = own ?? other
  if (binsFrom === null) throw gatewayError('DRIFT_NO_REFERENCE', r.model, r.version)
  const columns = columnsOf(binsFrom.profile)
  const referenceWindow = r.reference.kind === 'version'
    ? { model: r.model, version: r.reference.version, since: r.since, until: r.until }
    : { model: r.model, version: r.version, since: r.reference.since, until: r.reference.until }
  const reference = yield* count(referenceWindow, binsFrom, columns)
  const live = yield* count(r, binsFrom, columns)
  return { binsFrom, reference, live, source: source() }
}

/** Whole minutes from the rollups, the partial first and last minute from the records, counted as the writer counts them. */
function* windowFromRollups(f: WindowFilter, columns: readonly CountedColumn[]): Operation<WindowCounts> {
  const first = Math.ceil(f.since / MINUTE_MS) * MINUTE_MS
  const last = Math.floor(f.until / MINUTE_MS) * MINUTE_MS
  if (first >= last) return yield* recordCounts(f, columns)
  const parts = [yield* rollupCounts({ ...f, since: first, until: last }, columns)]
  if (f.since < first) parts.push(yield* recordCounts({ ...f, until: first }, columns))
  if (last < f.until) parts.push(yield* recordCounts({ ...f, since: last }, columns))
  return addCounts(parts, columns)
}
