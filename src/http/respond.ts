/** Writing JSON answers, shared by the data plane and the control plane. */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { toErrorResponse } from '../errors.js'
import type { Logger } from '../log.js'
import { endAfterDiscardingBody } from './linger.js'

const JSON_TYPE = 'application/json; charset=utf-8'
const STOPPING = Symbol('switchyard: the gateway is stopping')

/**
 * The gateway is stopping: every answer on `socket` from now on, including the one in flight,
 * says `Connection: close` and closes it after. Without this, an answer in flight at the stop
 * kept the connection alive, and the stop's sweep of idle connections cut the client's next
 * request on it.
 */
export function closeAfterAnswers(socket: Socket): void {
  (socket as unknown as Record<symbol, boolean>)[STOPPING] = true
}

function closeIfStopping(res: ServerResponse): void {
  if ((res.socket as unknown as Record<symbol, boolean> | null)?.[STOPPING] === true) res.shouldKeepAlive = false
}

/**
 * An inference answer names the version that served it, its role, and for routed calls the
 * routes.yaml revision that chose it. A flat header array is Node's cheapest form.
 */
export function sendAnswer(res: ServerResponse, json: string, version: string, role: string, revision: number | null): void {
  const headers = ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(json)), 'x-model-version', version, 'x-model-role', role]
  if (revision !== null) headers.push('x-routes-revision', String(revision))
  closeIfStopping(res)
  res.writeHead(200, headers)
  res.end(json)
}

/**
 * An answer with binary tensor data (Triton's binary extension): the JSON header, then each
 * binary output's bytes; Inference-Header-Content-Length says where the header ends.
 */
export function sendBinaryAnswer(res: ServerResponse, header: string, blobs: readonly Buffer[], version: string, role: string, revision: number | null): void {
  const headerBytes = Buffer.byteLength(header)
  const length = blobs.reduce((n, b) => n + b.length, headerBytes)
  const headers = ['content-type', 'application/octet-stream', 'content-length', String(length), 'inference-header-content-length', String(headerBytes),
    'x-model-version', version, 'x-model-role', role]
  if (revision !== null) headers.push('x-routes-revision', String(revision))
  closeIfStopping(res)
  res.writeHead(200, headers)
  res.write(header)
  for (let i = 0; i < blobs.length - 1; i++) res.write(blobs[i])
  res.end(blobs.at(-1))
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const json = JSON.stringify(body)
  closeIfStopping(res)
  res.writeHead(status, { ...headers, 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(json) })
  res.end(json)
}

/** The one way an error becomes a response: 5xx are logged at error with the cause, 4xx at info. Returns what was answered. */
export function sendError(res: ServerResponse, err: unknown, log: Logger, context: Record<string, unknown>): { status: number; code: string } {
  const { status, body } = toErrorResponse(err)
  if (status >= 500) log.error(body.error, { ...context, code: body.code, err: describeCause(err) })
  else log.info(body.error, { ...context, code: body.code, status })
  if (res.headersSent) {
    res.destroy()
    return { status, code: body.code }
  }
  if (status === 413) {
    refuseBody(res, status, JSON.stringify(body))
    return { status, code: body.code }
  }
  const headers: Record<string, string> = {}
  const allow = (body as { allow?: unknown }).allow
  if (status === 405 && typeof allow === 'string') headers.allow = allow
  sendJson(res, status, body, headers)
  return { status, code: body.code }
}

/** The body is refused while the client may still be sending it: answer now, end the answer after the rest (linger.ts). */
function refuseBody(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, { connection: 'close', 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(json) })
  res.write(json)
  endAfterDiscardingBody(res)
}

function describeCause(err: unknown): string {
  const e = err as Error & { cause?: unknown }
  const cause = e?.cause as Error | undefined
  return [e?.stack ?? String(err), cause ? `cause: ${cause.stack ?? String(cause)}` : ''].filter(Boolean).join('\n')
}
