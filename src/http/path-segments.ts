/** Reading the data plane's split paths: names in segments, and the method a path takes. */
import { gatewayError, gatewayErrorWith } from '../errors.js'
import { isValidName } from '../registry/names.js'

/** A path segment as a name; percent-decoded, then checked (no '/', no '..', no leading dot). */
export function segmentName(kind: 'model' | 'version' | 'label', segment: string): string {
  let decoded = segment
  if (segment.includes('%')) {
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      throw gatewayError('NAME_INVALID', kind, segment)
    }
  }
  if (!isValidName(decoded)) throw gatewayError('NAME_INVALID', kind, decoded.slice(0, 64))
  return decoded
}

export function requireMethod(method: string, allowed: 'GET' | 'POST', segments: string[]): void {
  if (method === allowed || (allowed === 'GET' && method === 'HEAD')) return
  throw gatewayErrorWith('METHOD_NOT_ALLOWED', { details: { allow: allowed } }, method, segments.join('/'), allowed)
}
