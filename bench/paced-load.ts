/**
 * An open-loop load at a fixed request rate, for latency at a given load (wrk2's method).
 *
 * autocannon's `overallRate` is not a fixed rate below one second: each connection sends as
 * fast as it can until its quota for the current second is used, then waits for the next
 * second. "Half the maximum" is then full load for half of every second and idle for the other
 * half, and its p99 is full load's p99 (measured: the bare floor at a quarter of its maximum
 * had a p99 of 11-34 ms that way). Here requests leave evenly spaced (every millisecond, those
 * due) on up to `connections` keep-alive sockets. A request's latency counts from the tick
 * that sent it, or that queued it when every socket was waiting for an answer: a stall of the
 * server shows in the figures instead of delaying later requests (no coordinated omission),
 * while the generator's own timer lateness does not.
 *
 * The client is a few lines on node:net with one prebuilt request, like autocannon's: node:http's
 * own client costs so much a request that at 9,000 req/s it, not the server, set the latency.
 * It reads answers that carry Content-Length, which every server in bench/ sends.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'

export interface PacedLoad {
  readonly url: string
  readonly body: string
  readonly headers: Record<string, string>
  /** Requests a second, spread evenly. */
  readonly rate: number
  readonly seconds: number
  readonly connections: number
}

export interface PacedResult {
  readonly reqPerSec: number
  /** Milliseconds from sending a request (or queueing it for a socket) to its whole answer. */
  readonly p50: number
  readonly p99: number
  readonly non2xx: number
  readonly errors: number
  /** Every answer's latency (ms), sorted, for pooling several runs. */
  readonly latencies: Float64Array
}

/** The q-quantile of sorted latencies, to 0.01 ms. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(2))
}

const TICK_MS = 1
const HEADER_END = Buffer.from('\r\n\r\n')

/** One keep-alive connection with at most one request in flight. */
class Connection {
  readonly socket: Socket
  #buffered: Buffer = Buffer.alloc(0)
  /** When the request in flight was sent, or queued for a socket; null when idle. */
  due: number | null = null

  constructor(host: string, port: number, onAnswer: (c: Connection, status: number) => void, onError: (c: Connection) => void) {
    this.socket = connect({ host, port, noDelay: true })
    this.socket.on('data', (chunk: Buffer) => {
      this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk])
      const end = this.#buffered.indexOf(HEADER_END)
      if (end === -1) return
      const head = this.#buffered.subarray(0, end).toString('latin1')
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)
      if (length === null) return onError(this)
      const total = end + HEADER_END.length + Number(length[1])
      if (this.#buffered.length < total) return
      this.#buffered = this.#buffered.subarray(total)
      onAnswer(this, Number(head.slice(9, 12)))
    })
    this.socket.on('error', () => onError(this))
  }
}

export function pacedLoad(load: PacedLoad): Promise<PacedResult> {
  const target = new URL(load.url)
  const head = [`POST ${target.pathname} HTTP/1.1`, `host: ${target.host}`, 'connection: keep-alive', `content-length: ${Buffer.byteLength(load.body)}`,
    ...Object.entries(load.headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n')
  const request = Buffer.from(`${head}\r\n\r\n${load.body}`)
  const total = Math.round(load.rate * load.seconds)
  const latencies = new Float64Array(total)
  const waiting: number[] = [] // when requests that found no idle connection were queued
  const idle: Connection[] = []
  let done = 0
  let non2xx = 0
  let errors = 0
  const started = performance.now()

  return new Promise((resolve) => {
    const connections: Connection[] = []
    let finished = false
    const finish = (): void => {
      if (finished) return
      finished = true
      clearInterval(timer)
      clearTimeout(deadline)
      for (const c of connections) c.socket.destroy()
      const measured = latencies.slice(0, done).sort()
      resolve({ reqPerSec: Math.round(done / ((performance.now() - started) / 1000)), p50: quantile(measured, 0.5), p99: quantile(measured, 0.99), non2xx, errors, latencies: measured })
    }
    const settle = (c: Connection, ok: boolean): void => {
      latencies[done++] = performance.now() - c.due!
      if (!ok) non2xx++
      c.due = null
      if (done + errors >= total) return finish()
      const next = waiting.shift()
      if (next === undefined) idle.push(c)
      else send(c, next)
    }
    const fail = (c: Connection): void => {
      if (c.due !== null) errors++
      c.due = null
      c.socket.destroy()
      if (done + errors >= total) finish()
    }
    const send = (c: Connection, due: number): void => {
      c.due = due
      c.socket.write(request)
    }
    for (let i = 0; i < load.connections; i++) {
      const c = new Connection(target.hostname, Number(target.port), (conn, status) => settle(conn, status >= 200 && status < 300), fail)
      connections.push(c)
      idle.push(c)
    }
    const interval = 1000 / load.rate
    let sent = 0
    const timer = setInterval(() => {
      const now = performance.now()
      while (sent < total && started + sent * interval <= now) {
        const c = idle.pop()
        if (c === undefined) waiting.push(now)
        else send(c, now)
        sent++
      }
      if (sent === total) clearInterval(timer)
    }, TICK_MS)
    // answers that never come count as errors, and the run still ends
    const deadline = setTimeout(() => {
      errors += total - done - errors
      finish()
    }, (load.seconds + 10) * 1000)
  })
}
