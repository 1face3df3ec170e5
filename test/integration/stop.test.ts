/**
 * The stop: an answer in flight when it begins says `Connection: close`, so the client does not
 * send its next request on a connection about to be cut, and the stop does not wait for the
 * connection's keep-alive timeout.
 */
import { request, Agent } from 'node:http'
import { describe, expect, it } from 'vitest'
import { creditRecords, startGateway } from './helpers.js'

describe('stopping the gateway', () => {
  it('answers the request in flight with Connection: close, and stops without waiting for keep-alive timeouts', async () => {
    const gw = await startGateway()
    const agent = new Agent({ keepAlive: true })
    try {
      const body = JSON.stringify({ instances: creditRecords(1, 3) })
      const port = new URL(gw.url).port
      // a kept-alive connection with one answer behind it, like a client between requests
      const first = await new Promise<string | undefined>((resolve, reject) => {
        request({ port, agent, method: 'POST', path: '/v1/models/credit-risk/versions/v1/predict', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.headers.connection))
        }).on('error', reject).end(body)
      })
      expect(first).toBe('keep-alive')
      // a second request whose body is still arriving when the stop begins
      let answered!: (v: { status: number; connection: string | undefined }) => void
      const answer = new Promise<{ status: number; connection: string | undefined }>((resolve) => (answered = resolve))
      const inFlight = request({ port, agent, method: 'POST', path: '/v1/models/credit-risk/versions/v1/predict', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
        res.resume()
        res.on('end', () => answered({ status: res.statusCode!, connection: res.headers.connection }))
      })
      inFlight.write(body.slice(0, 10))
      await new Promise((r) => setTimeout(r, 100))
      const stopping = Date.now()
      const closed = gw.close()
      await new Promise((r) => setTimeout(r, 50))
      inFlight.end(body.slice(10))
      expect(await answer).toEqual({ status: 200, connection: 'close' })
      await closed
      expect(Date.now() - stopping).toBeLessThan(2_000) // a kept-alive connection would have held it for 5 s
    } finally {
      agent.destroy()
    }
  })
})
