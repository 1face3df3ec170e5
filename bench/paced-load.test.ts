/**
 * The fixed-rate client decides a target, so it must measure what it says: requests evenly
 * spread at the rate asked, each latency from its sending, answers that are not 2xx counted,
 * and a server slower than the rate showing as growing latency rather than a lower rate.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { pacedLoad } from './paced-load.js'

let server: Server | null = null
afterEach(() => new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve()))))

/**
 * A server that answers after `delayMs` with `status`, and remembers when each request arrived.
 * With `oneAtATime`, it answers one request at a time (a server of 1000 / delayMs a second),
 * without blocking this process's event loop, which the client shares.
 */
function serve(delayMs: number, status = 200, oneAtATime = false): Promise<{ url: string; arrivals: number[] }> {
  const arrivals: number[] = []
  const queue: (() => void)[] = []
  let busy = false
  const next = (): void => {
    const answer = queue.shift()
    busy = answer !== undefined
    if (answer !== undefined) setTimeout(() => { answer(); next() }, delayMs)
  }
  server = createServer((req, res) => {
    arrivals.push(performance.now())
    req.resume()
    req.on('end', () => {
      const answer = (): void => {
        const body = '{"ok":true}'
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      }
      if (!oneAtATime) return void setTimeout(answer, delayMs)
      queue.push(answer)
      if (!busy) next()
    })
  })
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => {
    const { port } = server!.address() as { port: number }
    resolve({ url: `http://127.0.0.1:${port}/x`, arrivals })
  }))
}

const load = (url: string, rate: number, seconds: number) =>
  pacedLoad({ url, body: '{"a":1}', headers: { 'content-type': 'application/json' }, rate, seconds, connections: 10 })

describe('pacedLoad', () => {
  it('sends at the rate asked, evenly, and measures each answer from its sending', async () => {
    const { url, arrivals } = await serve(20)
    const result = await load(url, 200, 1)
    expect(result.latencies.length).toBe(200)
    expect(result.errors + result.non2xx).toBe(0)
    expect(result.p50).toBeGreaterThanOrEqual(20)
    expect(result.p50).toBeLessThan(60)
    // evenly spread over the second
    const start = arrivals[0]
    const perTenth = new Array(10).fill(0)
    for (const t of arrivals) perTenth[Math.min(9, Math.floor((t - start) / 100))]++
    expect(Math.max(...perTenth)).toBeLessThanOrEqual(60) // 20 expected; a burst would put 200 in one
  })

  it('counts answers that are not 2xx', async () => {
    const { url } = await serve(0, 503)
    const result = await load(url, 100, 0.5)
    expect(result.non2xx).toBe(50)
  })

  it('shows a server slower than the rate as latency growing over the run (no coordinated omission)', async () => {
    const { url } = await serve(10, 200, true) // at most ~100 a second
    const result = await load(url, 200, 1) // twice that
    expect(result.latencies.length).toBe(200)
    expect(result.p99).toBeGreaterThan(500) // the last requests waited for the ~100 before them
  })
})
