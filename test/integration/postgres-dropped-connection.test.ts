/**
 * A PostgreSQL server that shuts down while the gateway connects. CI once ended in an uncaught
 * "terminating connection due to administrator command" while store-outage.test.ts stopped its
 * cluster: the server's ReadyForQuery and its FATAL 57P01 came in one read, and pg-pool hands a
 * new connection out (taking its own error listener off) before ours is on, so the error event
 * had no listener. A proxy in front of the real server sends exactly that to the first connection.
 */
import { createConnection, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/open-store.js'
import { createTestDatabase } from './postgres.js'

/** The server's FATAL 57P01 error message, as a fast shutdown sends it. */
function adminShutdownMessage(): Buffer {
  const fields = Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0')
  const header = Buffer.alloc(5)
  header.write('E', 0)
  header.writeInt32BE(fields.length + 4, 1)
  return Buffer.concat([header, fields])
}

/**
 * Forwards to `target`; the first `drops` connections get the server's startup answers up to
 * its first ReadyForQuery, then the shutdown message in the same write, and are closed.
 */
function startDroppingProxy(target: URL, drops: number): Promise<Server> {
  let dropsLeft = drops
  const server = createServer((client: Socket) => {
    const upstream = createConnection(Number(target.port), target.hostname)
    client.pipe(upstream)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    if (dropsLeft-- <= 0) {
      upstream.pipe(client)
      return
    }
    let held = Buffer.alloc(0)
    upstream.on('data', (chunk: Buffer) => {
      held = Buffer.concat([held, chunk])
      // server messages: a type byte, then an Int32 length that counts itself
      for (let at = 0; at + 5 <= held.length; at += 1 + held.readInt32BE(at + 1)) {
        const end = at + 1 + held.readInt32BE(at + 1)
        if (end > held.length) return
        if (held[at] !== 0x5a) continue // 'Z', ReadyForQuery
        client.end(Buffer.concat([held.subarray(0, end), adminShutdownMessage()]))
        upstream.destroy()
        return
      }
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

let db: Awaited<ReturnType<typeof createTestDatabase>>
let proxy: Server

beforeAll(async () => {
  db = await createTestDatabase()
  proxy = await startDroppingProxy(new URL(db.url), 1)
})

afterAll(async () => {
  proxy?.close()
  await db?.drop()
})

describe('a PostgreSQL connection terminated in the read that made it ready', () => {
  it('fails that call, leaves the process up, and the next call answers on a new connection', async () => {
    const uncaught: Error[] = []
    const onUncaught = (err: Error): void => void uncaught.push(err)
    process.on('uncaughtException', onUncaught)
    const url = new URL(db.url)
    url.port = String((proxy.address() as AddressInfo).port)
    const store = await openStore({ kind: 'postgres', url: url.toString() })
    try {
      await expect(store.migrate()).rejects.toThrow()
      await new Promise((r) => setTimeout(r, 100)) // whatever the dropped socket still emits
      expect(uncaught.map((e) => e.message)).toEqual([])
      expect(await store.migrate()).toBeGreaterThan(0)
    } finally {
      process.off('uncaughtException', onUncaught)
      await store.close()
    }
  })
})
