/**
 * The gateway's open connections: how long one may stay silent, how many may be open at once,
 * and how they end at the stop (issue #14: 2,000 sockets that never sent a byte stayed open
 * for ever, and 1,100 of them under a 1,024 open-file limit locked every other client out).
 *
 *   connect ──▶ silent: closed after idleTimeoutMs without a request
 *                 │ a request arrives
 *                 ▼
 *               active ◀──▶ idle keep-alive: closed after idleTimeoutMs (Node's keepAliveTimeout)
 *
 * At the cap, a new connection takes the place of the oldest silent or idle one; only when
 * every open connection is busy with a request is the new one refused (closed at once).
 */
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { Server as NetServer } from 'node:net'
import type { Socket } from 'node:net'
import { closeAfterAnswers } from './respond.js'

const HAS_REQUESTED = Symbol('switchyard: a request has arrived on this connection')
/** A request's headers must all arrive within this (a client sending them a byte at a time holds a socket). */
export const HEADERS_TIMEOUT_MS = 10_000 // 10 s
/** A request, body included, must arrive within this; larger bodies than --max-body-bytes are refused long before. */
export const REQUEST_TIMEOUT_MS = 60_000 // 60 s
/** How often Node checks the two above (its default is 30 s, which let a slow client hold a socket for 40 s). */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000 // 1 s
/** File descriptors kept for everything but client connections: the store, the journal, models, workers. */
const RESERVED_FILES = 128

type TrackedSocket = Socket & { [HAS_REQUESTED]?: true; _httpMessage?: unknown }

export interface ConnectionOptions {
  /** How long a connection may stay silent: before its first request, and between requests. */
  readonly idleTimeoutMs: number
  /** Most connections open at once; null takes the open-file limit less what the gateway needs itself. */
  readonly maxConnections: number | null
}

export class Connections {
  readonly #server: Server
  readonly #open = new Set<TrackedSocket>() // in the order they came: the first idle one is the oldest
  readonly #idleTimeoutMs: number
  readonly maxConnections: number
  /** Connections closed at once because every open one was busy. */
  refused = 0
  /** Silent or idle connections closed to make room for a new one. */
  evicted = 0

  constructor(server: Server, options: ConnectionOptions) {
    this.#server = server
    this.#idleTimeoutMs = options.idleTimeoutMs
    this.maxConnections = options.maxConnections ?? defaultMaxConnections()
    server.keepAliveTimeout = options.idleTimeoutMs
    server.headersTimeout = HEADERS_TIMEOUT_MS
    server.requestTimeout = REQUEST_TIMEOUT_MS
    server.on('connection', (socket: TrackedSocket) => this.#accept(socket))
  }

  get size(): number {
    return this.#open.size
  }

  /** Called for every request: a connection that has asked something is no longer silent. */
  requestArrived(socket: Socket): void {
    const s = socket as TrackedSocket
    if (s[HAS_REQUESTED] === true) return
    s[HAS_REQUESTED] = true
    s.setTimeout(0) // from now on Node's keepAliveTimeout covers the time between requests
  }

  /**
   * Stop accepting, let every request that has arrived be answered with Connection: close,
   * then close the connections between requests.
   * Resolves once every connection is closed.
   */
  async close(): Promise<void> {
    // net's close, not http's: http's would cut every connection between requests at once,
    // resetting a request whose bytes were still in the socket's buffer
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(this.#server, () => resolve()))
    for (const socket of this.#open) closeAfterAnswers(socket)
    // a request whose bytes had arrived when the stop began is read in the loop's next poll
    // phase, which lies between these two turns: its connection is then busy, not idle
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    for (const socket of this.#open) if (isIdle(socket)) socket.destroy()
    await closed
  }

  #accept(socket: TrackedSocket): void {
    if (this.#open.size >= this.maxConnections && !this.#evictOne()) {
      this.refused++
      socket.destroy()
      return
    }
    this.#open.add(socket)
    socket.once('close', () => this.#open.delete(socket))
    // silent until its first request: with nobody listening for 'timeout', Node destroys it
    socket.setTimeout(this.#idleTimeoutMs)
  }

  #evictOne(): boolean {
    for (const socket of this.#open) {
      if (!isIdle(socket)) continue
      this.evicted++
      socket.destroy()
      this.#open.delete(socket)
      return true
    }
    return false
  }
}

/** Silent since it opened, or between requests (Node's own closeIdleConnections reads _httpMessage the same way). */
function isIdle(socket: TrackedSocket): boolean {
  return socket[HAS_REQUESTED] !== true || socket._httpMessage == null
}

/** The soft limit on open files (Linux's /proc/self/limits) less what the gateway needs for itself. */
export function defaultMaxConnections(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (line !== null && line[1] !== 'unlimited') return Math.max(16, Number(line[1]) - RESERVED_FILES)
  } catch {
    // not Linux: no limit known
  }
  return 65_536
}
