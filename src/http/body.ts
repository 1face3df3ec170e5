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
  if (type === undefined || !JSON_TYPE.test(type)) throw gatewayError('BODY_UNSUPPORTED_MEDIA_TYPE', type ?? '(none)')
}

export interface JsonBody {
  readonly value: unknown
  /** The text as received: the inference log stores inputs from it, off the request thread. */
  readonly text: string
}

/** Resolves to the parsed body and its text; rejects with BODY_TOO_LARGE (413) or BODY_MALFORMED_JSON (400). */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<JsonBody> {
  checkJsonContentType(req)
  const declared = Number(req.headers['content-length'])
  if (declared > maxBytes) return Promise.reject(gatewayError('BODY_TOO_LARGE', maxBytes))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let received = 0
    const onData = (chunk: Buffer): void => {
      received += chunk.length
      if (received > maxBytes) {
        req.off('data', onData)
        req.off('end', onEnd)
        reject(gatewayError('BODY_TOO_LARGE', maxBytes))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, received).toString('utf8')
      try {
        resolve({ value: JSON.parse(text), text })
      } catch (err) {
        reject(gatewayError('BODY_MALFORMED_JSON', text.length === 0 ? 'the body is empty' : (err as Error).message))
      }
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', reject)
  })
}
