/** The comparison's operations the store worker runs by name, each from one read snapshot. */
import { namedOperations, reads } from '../store/operation.js'
import { compareAggregates, timeseries } from './compare-sql.js'

export const COMPARE_OPERATIONS = namedOperations('compare', { aggregates: reads(compareAggregates), timeseries: reads(timeseries) })
