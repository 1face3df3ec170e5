/** Reading a control-plane query string: each parameter at most once, times as ISO 8601 or ms. */
import { gatewayError } from '../errors.js'
import { parseTimestamp } from '../timestamp.js'

export interface QueryReader {
  text(name: string): string | undefined
  time(name: string): number | undefined
}

export function queryReader(q: Record<string, unknown>): QueryReader {
  const text = (name: string): string | undefined => {
    const v = q[name]
    if (v === undefined) return undefined
    if (typeof v !== 'string') throw gatewayError('QUERY_INVALID', name, 'is given more than once')
    return v
  }
  return {
    text,
    time(name) {
      const v = text(name)
      if (v === undefined) return undefined
      try {
        return parseTimestamp(v, name)
      } catch {
        throw gatewayError('QUERY_INVALID', name, 'must be an ISO 8601 time or milliseconds since the epoch')
      }
    },
  }
}
