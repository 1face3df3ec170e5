/** The comparison's operations the store worker runs by name, each from one read snapshot. */
import { namedOperations, reads } from '../store/operation.js'
import { compareFromRollups, timeseries } from './compare-rollups.js'

export const COMPARE_OPERATIONS = namedOperations('compare', { aggregates: reads(compareFromRollups), timeseries: reads(timeseries) })
