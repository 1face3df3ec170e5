/**
 * The lifecycle's operations the store worker runs by name (generators cannot cross threads;
 * their names and arguments can). Every change appends to the activity log in its transaction.
 */
import { namedOperations, reads, writes } from '../store/operation.js'
import { appendActivity, decide, listActivity, listRequests, listStages, registerVersions, requestStage, setLock } from './operations.js'

export const LIFECYCLE_OPERATIONS = namedOperations('lifecycle', {
  appendActivity: writes(appendActivity),
  decide: writes(decide),
  listActivity: reads(listActivity),
  listRequests: reads(listRequests),
  listStages: reads(listStages),
  registerVersions: writes(registerVersions),
  requestStage: writes(requestStage),
  setLock: writes(setLock),
})
