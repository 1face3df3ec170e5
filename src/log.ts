/**
 * The gateway's logs: JSON lines on stderr (stdout stays free for CLI output), written by pino.
 *
 *   {"level":"info","time":"2026-11-24T10:00:00.000Z","code":"MODEL_NOT_FOUND","status":404,"msg":"model 'x' is not loaded"}
 *
 * The request thread never waits for stderr (before issue #15 it made one write(2) a 4xx).
 * Each worker thread writes its own lines to fd 2, synchronously: it is off the request path,
 * and a worker can be terminated at any moment, which would lose what it still held.
 */
import { isMainThread } from 'node:worker_threads'
import { pino } from 'pino'
import type { DestinationStream } from 'pino'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

type SonicBoom = ReturnType<typeof pino.destination>

const NO_FIELDS = Object.freeze({})
const ignore = (): void => {}
const SILENT: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore }

const BUFFER_BYTES = 4_096 // lines are written when this much has gathered...
const FLUSH_EVERY_MS = 100 // ...or this often: the longest a line waits on a quiet gateway

/** This thread's stderr destination, shared by its loggers; made for the first logger that writes. */
let destination: SonicBoom | null = null

/**
 * On the main thread, sonic-boom writes from libuv's thread pool, 4 KB at a time: 100,000 4xx
 * lines, four an event-loop turn, cost the request thread 4.9 us a line against 9 us for one
 * synchronous write(2) a line (and 5.7 us when every line was written on its own). pino writes
 * what is left synchronously when the process exits. A worker's lines are written at once.
 */
function stderr(): DestinationStream {
  destination ??= isMainThread
    ? pino.destination({ dest: 2, sync: false, minLength: BUFFER_BYTES, periodicFlush: FLUSH_EVERY_MS })
    : pino.destination({ dest: 2, sync: true })
  return destination
}

export function createLogger(level: LogLevel): Logger {
  if (level === 'silent') return SILENT
  const p = pino({
    level,
    base: null, // no pid or hostname: the process that runs the gateway knows them
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, stderr())
  return {
    debug: (msg, fields) => p.debug(fields ?? NO_FIELDS, msg),
    info: (msg, fields) => p.info(fields ?? NO_FIELDS, msg),
    warn: (msg, fields) => p.warn(fields ?? NO_FIELDS, msg),
    error: (msg, fields) => p.error(fields ?? NO_FIELDS, msg),
  }
}

/**
 * Resolves once every line logged so far on this thread is written to stderr: at the stop, and
 * before a fatal error is printed, so that the lines before it come first.
 */
export function flushLogs(): Promise<void> {
  const d = destination
  if (d === null || !isMainThread) return Promise.resolve() // a worker's lines are written as they come
  // the callback's error is fsync's on a pipe or terminal (EINVAL): the lines were written
  return new Promise((resolve) => d.flush(() => resolve()))
}
