/**
 * Times as callers write them, on the data plane (X-Inference-Timestamp), the control plane
 * (?since=, ground truth) and the CLI (export --since): one reading for all three.
 */
import { gatewayError } from './errors.js'

/** ISO 8601 text or ms since the epoch (a number, or digits) to ms since the epoch. */
export function parseTimestamp(value: unknown, where: string): number {
  const ms = typeof value === 'number' ? value
    : typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value)
    : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value)
    : NaN
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > 8_640_000_000_000_000) throw gatewayError('TIMESTAMP_INVALID', where)
  return ms
}
