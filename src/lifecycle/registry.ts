/** The lifecycle operations the store worker runs by name (generators cannot cross threads; their names and arguments can). */
import { appendActivity, decide, listActivity, listRequests, listStages, registerVersions, requestStage, setLock } from './operations.js'

export const LIFECYCLE_OPERATIONS = { appendActivity, decide, listActivity, listRequests, listStages, registerVersions, requestStage, setLock }
export type LifecycleOperationName = keyof typeof LIFECYCLE_OPERATIONS
