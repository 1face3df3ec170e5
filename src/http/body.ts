/**
 * Reading a JSON request body with a size limit. The limit is checked against
 * Content-Length before reading and against the bytes actually received while reading,
 * so a chunked body cannot get past it either.
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
 * Read the body and parse it, then call `onBody` with the value and its text (the inference
 * log stores inputs from the text, off the request thread). Whatever goes wrong, the limit
 * (413), bad JSON (400) or an error thrown by `onBody` itself, goes to `onError`, once.
 * Callbacks rather than a promise: this runs for every request.
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number, onBody: (value: unknown, text: string) => void, onError: (err: unknown) => void): void {
  checkJsonContentType(req)
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
    const text = more !== null ? Buffer.concat(more, received).toString('utf8') : first === null ? '' : first.toString('utf8')
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      onError(gatewayError('BODY_MALFORMED_JSON', text.length === 0 ? 'the body is empty' : (err as Error).message))
      return
    }
    try {
      onBody(value, text)
    } catch (err) {
      onError(err)
    }
  }
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('error', fail)
}
