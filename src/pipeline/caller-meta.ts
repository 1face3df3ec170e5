/**
 * What a caller may attach to an inference for the log, besides its inputs, as HTTP headers
 * or gRPC metadata of the same names:
 *
 *   X-Inference-Id: 7f3a…              the inference id (a native row's own `id` wins)
 *   X-Inference-Timestamp: 2026-…Z      when the case happened (or the native body's `timestamp`)
 *   X-Inference-Attributes: region=eu&channel=web   (or the native body's `attributes` object)
 *
 * Checked on the request thread, so a bad value gets a 400 rather than a quiet loss; each is
 * read only when present.
 */
import { gatewayError } from '../errors.js'
import { isValidInferenceId } from '../inference-id.js'
import { parseTimestamp } from '../timestamp.js'

const MAX_ATTRIBUTES = 32
const MAX_ATTRIBUTE_CHARS = 256
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,64}$/

export interface CallerMeta {
  readonly callerTs: number | null
  /** JSON object text, or null. */
  readonly attributes: string | null
}

export const NO_CALLER_META: CallerMeta = Object.freeze({ callerTs: null, attributes: null })

/** A request's headers (HTTP) or metadata (gRPC) by lower-case name. */
export type HeaderOf = (name: string) => string | string[] | undefined

export function callerInferenceId(header: HeaderOf): string | null {
  const id = header('x-inference-id')
  if (id === undefined) return null
  if (!isValidInferenceId(id)) throw gatewayError('INFERENCE_ID_INVALID', 'the X-Inference-Id header')
  return id as string
}

/** Timestamp and attributes from the headers, or from a native body's `timestamp` and `attributes`. */
export function callerMeta(header: HeaderOf, body: Record<string, unknown> | null): CallerMeta {
  const tsHeader = header('x-inference-timestamp')
  const attrHeader = header('x-inference-attributes')
  const tsField = body?.timestamp
  const attrField = body?.attributes
  if (tsHeader === undefined && attrHeader === undefined && tsField === undefined && attrField === undefined) return NO_CALLER_META
  return {
    callerTs: tsHeader !== undefined ? parseTimestamp(tsHeader, 'the X-Inference-Timestamp header')
      : tsField !== undefined ? parseTimestamp(tsField, "the body's 'timestamp'") : null,
    attributes: attrHeader !== undefined ? attributesJson(Object.fromEntries(new URLSearchParams(String(attrHeader))))
      : attrField !== undefined ? attributesJson(attrField) : null,
  }
}

/** A caller's attributes object as JSON text, or throws ATTRIBUTES_INVALID. */
export function attributesJson(value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw gatewayError('ATTRIBUTES_INVALID', 'must be an object')
  const entries = Object.entries(value)
  if (entries.length > MAX_ATTRIBUTES) throw gatewayError('ATTRIBUTES_INVALID', `has ${entries.length} names`)
  for (const [name, v] of entries) {
    if (!ATTRIBUTE_NAME.test(name)) throw gatewayError('ATTRIBUTES_INVALID', `name '${name.slice(0, 64)}' is not allowed`)
    const ok = (typeof v === 'string' && v.length <= MAX_ATTRIBUTE_CHARS) || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
    if (!ok) throw gatewayError('ATTRIBUTES_INVALID', `'${name}' has a value that is not a short string, a number or a boolean`)
  }
  return JSON.stringify(value)
}
