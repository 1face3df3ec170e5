import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { gatewayErrorWith } from '../errors.js'
import { answerCall, StoreUnavailable } from './calls.js'
import type { CallMessage } from './calls.js'
import { indexOperations, namedOperations, reads, sql, writes } from './operation.js'
import type { Operation } from './operation.js'
import { SqliteStore } from './sqlite-store.js'
import type { Store } from './store.js'
import { BACKGROUND_PATIENCE_MS, StoreClient } from './store-client.js'

function* countRecords(model: string): Operation<number> {
  const [row] = yield sql('SELECT count(*) AS n FROM inferences WHERE model = ?', model)
  return Number(row.n)
}
function* refuse(model: string): Operation<never> {
  yield sql('SELECT 1')
  throw gatewayErrorWith('MODEL_NOT_FOUND', { details: { models: ['iris'] } }, model, ['iris'])
}
const OPS = namedOperations('test', { count: reads(countRecords), refuse: writes(refuse) })

/**
 * The call protocol both ways, without the thread between: each message is copied as
 * postMessage would copy it, and the worker's side runs on a real SQLite store.
 */
describe('store calls', () => {
  let dir: string
  let store: SqliteStore
  let isDown: boolean
  let refusesCalls: boolean
  let posted: CallMessage[]
  let client: StoreClient

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-calls-'))
    store = new SqliteStore(join(dir, 'log.db'))
    await store.migrate()
    isDown = false
    refusesCalls = false
    posted = []
    const caughtUp = async (): Promise<Store> => {
      if (isDown) throw new StoreUnavailable('down')
      return store
    }
    const operations = indexOperations([OPS])
    client = new StoreClient({
      isEnabled: true,
      post: (message) => {
        if (refusesCalls) return false
        posted.push(message)
        void answerCall(structuredClone(message), caughtUp, operations).then((reply) => client.settle(structuredClone(reply)))
        return true
      },
      hurry: () => undefined,
    })
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('run an operation by its name, with its arguments', async () => {
    expect(await client.run(OPS.count, 'm')).toBe(0)
    expect(posted).toEqual([{ code: 'CALL', id: 1, call: { kind: 'run', name: 'test.count', args: ['m'] } }])
    expect(client.urgentWaiting).toBe(0)
  })

  it('give back a catalogue error as it was thrown, with its code, status and details', async () => {
    await expect(client.run(OPS.refuse, 'wine')).rejects.toMatchObject({
      name: 'SwitchyardError', code: 'MODEL_NOT_FOUND', status: 404, message: expect.stringContaining("'wine'"), details: { models: ['iris'] },
    })
  })

  it('fail with INFERENCE_STORE_UNAVAILABLE while the store is down, and work again once it is back', async () => {
    isDown = true
    await expect(client.run(OPS.count, 'm')).rejects.toMatchObject({ code: 'INFERENCE_STORE_UNAVAILABLE', status: 503 })
    await expect(client.flush()).rejects.toMatchObject({ code: 'INFERENCE_STORE_UNAVAILABLE' })
    isDown = false
    await expect(client.flush()).resolves.toBeUndefined()
  })

  it('fail with INFERENCE_LOG_DISABLED when no worker takes calls', async () => {
    refusesCalls = true
    await expect(client.run(OPS.count, 'm')).rejects.toMatchObject({ code: 'INFERENCE_LOG_DISABLED', status: 409 })
    expect(client.urgentWaiting).toBe(0)
  })

  it('name an operation the worker does not have', async () => {
    const unknown = namedOperations('elsewhere', { count: reads(countRecords) })
    await expect(client.run(unknown.count, 'm')).rejects.toThrow("the store worker has no operation 'elsewhere.count'")
  })

  it('fail, all of them, with the error of a worker that failed', async () => {
    const quiet = new StoreClient({ isEnabled: true, post: () => true, hurry: () => undefined }) // a worker that never answers
    const calls = [quiet.run(OPS.count, 'a'), quiet.flush()]
    expect(quiet.urgentWaiting).toBe(2)
    const crash = new Error('worker exited')
    quiet.abandon(crash)
    for (const call of calls) await expect(call).rejects.toBe(crash)
    expect(quiet.urgentWaiting).toBe(0)
  })

  it('hurry the worker for a call at once, and for a background call only once it has waited its patience', async () => {
    vi.useFakeTimers()
    try {
      let hurried = 0
      const quiet = new StoreClient({ isEnabled: true, post: () => true, hurry: () => hurried++ })
      const background = quiet.runInBackground(OPS.count, 'a')
      expect([hurried, quiet.urgentWaiting]).toEqual([0, 0])
      vi.advanceTimersByTime(BACKGROUND_PATIENCE_MS - 1)
      expect([hurried, quiet.urgentWaiting]).toEqual([0, 0])
      vi.advanceTimersByTime(1)
      expect([hurried, quiet.urgentWaiting]).toEqual([1, 1])
      const urgent = quiet.run(OPS.count, 'b')
      expect([hurried, quiet.urgentWaiting]).toEqual([2, 2])
      quiet.settle({ code: 'REPLY', id: 1, ok: true, value: 3 })
      quiet.settle({ code: 'REPLY', id: 2, ok: true, value: 4 })
      expect([await background, await urgent, quiet.urgentWaiting]).toEqual([3, 4, 0])
      // answered within its patience: never hurried
      const prompt = quiet.runInBackground(OPS.count, 'c')
      quiet.settle({ code: 'REPLY', id: 3, ok: true, value: 5 })
      vi.advanceTimersByTime(2 * BACKGROUND_PATIENCE_MS)
      expect([await prompt, hurried]).toEqual([5, 2])
    } finally {
      vi.useRealTimers()
    }
  })
})
