/** Reference profiles and drift: the operations the store worker runs by name. */
import { namedOperations, reads, writes } from '../store/operation.js'
import { driftRaw } from './drift-raw.js'
import { getProfile, listProfiles, putProfile, putProfileIfAbsent } from './drift-sql.js'

export const DRIFT_OPERATIONS = namedOperations('drift', {
  putProfile: writes(putProfile),
  putProfileIfAbsent: writes(putProfileIfAbsent),
  getProfile: reads(getProfile),
  listProfiles: reads(listProfiles),
  raw: reads(driftRaw),
})
