/**
 * A version folder's reference.json (written by npm run models:build, or by
 * `switchyard reference --out`): put into the store at start and after each rescan when the
 * version has no profile there yet. The store is where profiles live (replicas share it); the
 * file only seeds it, so a profile given since through the API is never replaced by it.
 */
import { join } from 'node:path'
import { readRegularFile } from '../config/regular-file.js'
import type { Logger } from '../log.js'
import type { StoreCalls } from '../store/store-client.js'
import { ReferenceProfileSchema } from './profile.js'
import { DRIFT_OPERATIONS } from './registry.js'

export const REFERENCE_FILE = 'reference.json'
const MAX_REFERENCE_BYTES = 8 * 1024 * 1024 // as PUT .../reference takes

/** Seed the store from the versions' reference.json files; resolves to the versions given one. */
export async function seedReferenceProfiles(versions: readonly { model: string; version: string; dir: string }[], store: StoreCalls, log: Logger): Promise<string[]> {
  if (!store.isEnabled) return []
  const seeded: string[] = []
  for (const v of versions) {
    const path = join(v.dir, REFERENCE_FILE)
    const read = await readRegularFile(path, MAX_REFERENCE_BYTES)
    if (!read.ok) {
      if (!read.isMissing) log.warn('a reference.json cannot be read; the version has no reference profile from it', { file: path, reason: read.reason })
      continue
    }
    let profile
    try {
      profile = ReferenceProfileSchema.parse(JSON.parse(read.text))
    } catch (err) {
      log.warn('a reference.json is not a reference profile; rebuild it with switchyard reference --out', { file: path, err: String((err as Error)?.message ?? err).slice(0, 500) })
      continue
    }
    try {
      if (await store.run(DRIFT_OPERATIONS.putProfileIfAbsent, v.model, v.version, profile, `file ${REFERENCE_FILE}`, Date.now())) seeded.push(`${v.model}/${v.version}`)
    } catch (err) {
      log.warn('could not keep a reference profile in the store; the next rescan tries again', { file: path, err: String((err as Error)?.message ?? err) })
    }
  }
  if (seeded.length > 0) log.info('reference profiles taken from the version folders', { versions: seeded })
  return seeded
}
