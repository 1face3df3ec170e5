/**
 * Reading a JSON request body with a size limit. The limit is checked against
 * Content-Length before reading and against the bytes actually received while reading,
 * so a chunked body cannot get past it either. A V2 body may be a JSON header followed by
 * binary tensor data (Inference-Header-Content-Length gives the header's length), whatever
 * its Content-Type says.
 */
import type { IncomingMessage } from 'node:http'
import { gatewayError } from '../errors.js'

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

export function checkJsonContentType(req: IncomingMessage): void {
  const type = req.headers['content-type']
  if (type === 'application/json') return // what nearly every client sends
  if (type === undefined || !JSON_TYPE.test(type)) throw gatewayError('BODY_UNSUPPORTED_MEDIA_TYPE', type ?? '(none)')
}

/**
 * A request body, decoded and parsed as JSON only when something asks for its value: the
 * common inference bodies are read from the bytes themselves (protocols/plain-bodies.ts), and
 * parsing them as well would cost what that saves.
 */
export class JsonBody {
  /** As it came (the inference log stores inputs from these, off the request thread). */
  readonly bytes: Buffer
  /** The bytes after the JSON header (the binary tensor data extension); null for a body that is JSON alone. */
  readonly binary: Buffer | null
  readonly #jsonEnd: number
  #value: unknown = undefined
  #isParsed = false

  /** `headerLength`: the JSON header's length when binary data follows it; null when the body is JSON alone. */
  constructor(bytes: Buffer, headerLength: number | null = null) {
    this.bytes = bytes
    this.binary = headerLength === null ? null : bytes.subarray(headerLength)
    this.#jsonEnd = headerLength ?? bytes.length
  }

  get isParsed(): boolean {
    return this.#isParsed
  }

  /**
   * The parsed value; throws BODY_MALFORMED_JSON (400) when the text is not JSON, and
   * BODY_INVALID when it has a key that reaches an object's prototype in JavaScript
   * (issue #14: a top-level or V2-input "__proto__" was silently ignored).
   */
  value(): unknown {
    if (!this.#isParsed) {
      const text = this.bytes.toString('utf8', 0, this.#jsonEnd)
      try {
        // the reviver runs for every value, so only for a text that might hold such a key (an escape could spell one)
        this.#value = MAY_HOLD_FORBIDDEN_KEY.test(text) ? JSON.parse(text, refuseForbiddenKeys) : JSON.parse(text)
      } catch (err) {
        if (err instanceof ForbiddenKey) throw gatewayError('BODY_INVALID', `the key '${err.key}' is not allowed anywhere in a request body`)
        throw gatewayError('BODY_MALFORMED_JSON', this.bytes.length === 0 ? 'the body is empty' : (err as Error).message)
      }
      this.#isParsed = true
    }
    return this.#value
  }
}

const MAY_HOLD_FORBIDDEN_KEY = /__proto__|constructor|prototype|\\u/
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

class ForbiddenKey extends Error {
  constructor(readonly key: string) {
    super(key)
  }
}

function refuseForbiddenKeys(key: string, value: unknown): unknown {
  if (FORBIDDEN_KEYS.has(key)) throw new ForbiddenKey(key)
  return value
}

const EMPTY = Buffer.alloc(0)

/**
 * Read the body, then call `onBody` with it. Whatever goes wrong, the limit (413), bad JSON
 * (400) or an error thrown by `onBody` itself, goes to `onError`, once.
 * Callbacks rather than a promise: this runs for every request.
 */
/**
 * `takesBinaryData`: the endpoint takes the binary tensor data extension; a request that uses it
 * (an Inference-Header-Content-Length header) may have any Content-Type. `isJsonWhateverItsType`:
 * the endpoint reads every body as JSON, whatever its Content-Type says (TF Serving's do: its
 * clients often send none, or curl's form type).
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number, takesBinaryData: boolean, onBody: (body: JsonBody) => void, onError: (err: unknown) => void, isJsonWhateverItsType = false): void {
  const headerLength = takesBinaryData ? req.headers['inference-header-content-length'] : undefined
  if (headerLength === undefined && !isJsonWhateverItsType) checkJsonContentType(req)
  const declared = Number(req.headers['content-length'])
  if (declared > maxBytes) throw gatewayError('BODY_TOO_LARGE', maxBytes)
  let first: Buffer | null = null
  let more: Buffer[] | null = null
  let received = 0
  let isSettled = false
  const fail = (err: unknown): void => {
    if (isSettled) return
    isSettled = true
    onError(err)
  }
  const onData = (chunk: Buffer): void => {
    received += chunk.length
    if (received > maxBytes) {
      req.off('data', onData)
      req.off('end', onEnd)
      fail(gatewayError('BODY_TOO_LARGE', maxBytes))
      return
    }
    if (first === null) first = chunk
    else (more ??= [first]).push(chunk)
  }
  const onEnd = (): void => {
    if (isSettled) return
    isSettled = true
    const bytes = more !== null ? Buffer.concat(more, received) : first ?? EMPTY
    try {
      onBody(new JsonBody(bytes, headerLength === undefined ? null : jsonHeaderLength(headerLength, bytes.length)))
    } catch (err) {
      onError(err)
    }
  }
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('error', fail)
}

/** Inference-Header-Content-Length: a whole number of bytes, at most the body's. */
function jsonHeaderLength(header: string | string[], bodyBytes: number): number {
  const n = Number(header)
  if (typeof header !== 'string' || !/^\d+$/.test(header) || n > bodyBytes) {
    throw gatewayError('BODY_INVALID', `Inference-Header-Content-Length must be the JSON header's length in bytes, at most the body's ${bodyBytes}; got '${String(header)}'`)
  }
  return n
}
