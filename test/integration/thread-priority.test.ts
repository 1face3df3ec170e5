/**
 * The writer and the mirror worker run only when a core is free; the request thread hurries
 * the writer when a call or the stop waits for it (src/thread-priority.ts). Shown on a machine
 * kept busy by real processes at normal priority, one more than it has cores.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Worker } from 'node:worker_threads'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { IdleThread } from '../../src/thread-priority.js'
import type { LoweredThread } from '../../src/thread-priority.js'
import { createLogger } from '../../src/log.js'
import { MirrorRunner } from '../../src/router/mirror-runner.js'
import { loadSession } from '../../src/runtime/session.js'
import { startWorker } from '../../src/worker-entry.js'
import { creditRecords, post, startGateway } from './helpers.js'

const BATCH_ROWS = 100
const LAG_REQUESTS = 100
/** Raising a priority needs root with CAP_SYS_NICE, or an RLIMIT_NICE of 20; lowering does not. Tried on a throwaway process. */
const canRaise = spawnSync('sh', ['-c', 'sleep 5 & p=$!; chrt --idle -p 0 $p && chrt --other -p 0 $p; r=$?; kill $p; exit $r'], { stdio: 'ignore' }).status === 0
const dir = mkdtempSync(join(tmpdir(), 'switchyard-priority-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let busy: ChildProcess[] = []
afterEach(() => {
  for (const p of busy) p.kill('SIGKILL')
  busy = []
})

/** Keep every core busy at normal priority (`extra` processes more than there are cores). */
async function keepCoresBusy(extra = 1): Promise<void> {
  busy = Array.from({ length: availableParallelism() + extra }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
  await new Promise((r) => setTimeout(r, 300))
}

/** How far the spinner got in `ms` of wall time. */
function progress(worker: Worker, ms: number): Promise<number> {
  return new Promise((resolve) => {
    let first: number | null = null
    let last = 0
    const onMessage = (m: { spins?: number }) => {
      if (m.spins === undefined) return
      first ??= m.spins
      last = m.spins
    }
    worker.on('message', onMessage)
    setTimeout(() => {
      worker.off('message', onMessage)
      resolve(first === null ? 0 : last - first)
    }, ms)
  })
}

describe('a worker thread at idle priority on a busy machine', () => {
  it.skipIf(!canRaise)('gets almost no time, a fair share once hurried, and almost none again once relaxed', async () => {
    const worker = startWorker('./spinner', new URL('../fixtures/workers/spinner.ts', import.meta.url).href)
    try {
      const lowered = await new Promise<LoweredThread>((resolve) => worker.once('message', (m: { lowered: LoweredThread }) => resolve(m.lowered)))
      expect(lowered.priority).toBe('SCHED_IDLE')
      const thread = new IdleThread(lowered, 'spinner', createLogger('silent'))
      await progress(worker, 1_000) // its start (tsx) while the cores are free
      await keepCoresBusy()
      const idle = await progress(worker, 1_000)
      thread.hurry()
      await new Promise((r) => setTimeout(r, 200))
      const hurried = await progress(worker, 1_000)
      thread.relax()
      await new Promise((r) => setTimeout(r, 200))
      const relaxed = await progress(worker, 1_000)
      // SCHED_IDLE weighs 3 against a normal thread's 1,024: a tenth is generous
      expect(idle).toBeLessThan(hurried / 10)
      expect(relaxed).toBeLessThan(hurried / 10)
    } finally {
      await worker.terminate()
    }
  })
})

describe('an IdleThread whose thread has ended', () => {
  it.skipIf(!canRaise)('gives up on it instead of retrying: no error, no stream of chrt processes', async () => {
    const log = createLogger('silent')
    const worker = startWorker('./spinner', new URL('../fixtures/workers/spinner.ts', import.meta.url).href)
    const lowered = await new Promise<LoweredThread>((resolve) => worker.once('message', (m: { lowered: LoweredThread }) => resolve(m.lowered)))
    const viaChrt = new IdleThread(lowered, 'test', log)
    const viaNice = new IdleThread({ tid: lowered.tid, priority: 'nice 19' }, 'test', log)
    viaChrt.hurry()
    viaNice.hurry()
    await new Promise((r) => setTimeout(r, 300)) // both raised
    await worker.terminate()
    viaNice.relax() // setPriority on a thread that is gone fails at once: this recursed until the stack overflowed
    viaChrt.relax() // chrt on it fails: this started a new chrt for ever
    await new Promise((r) => setTimeout(r, 500))
    const running = spawnSync('pgrep', ['-P', String(process.pid), 'chrt'], { encoding: 'utf8' }).stdout.trim()
    expect(running).toBe('')
  })
})

describe('the inference log writer on a busy machine', () => {
  it.skipIf(!canRaise)('answers a call that waits for it, and writes every record at the stop, without waiting for a free core', async () => {
    const gw = await startGateway({ store: `sqlite:${join(dir, 'busy.db')}`, spillDir: join(dir, 'spill') })
    let closed = false
    try {
      const rows = creditRecords(20, 5)
      const batch = creditRecords(BATCH_ROWS, 6)
      const sendBatches = async (prefix: string) => {
        for (let i = 0; i < 20; i++) {
          expect((await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: batch }, { 'x-inference-id': `${prefix}-${i}` })).status).toBe(200)
        }
      }
      for (let i = 0; i < rows.length; i++) {
        expect((await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [rows[i]] }, { 'x-inference-id': `busy-${i}` })).status).toBe(200)
      }
      expect(await gw.gateway.inferenceLog.count('credit-risk')).toBe(20) // the writer has had records: it runs at idle priority now
      await new Promise((r) => setTimeout(r, 1_500)) // once relaxed after that call
      await keepCoresBusy()
      await sendBatches('busy-more') // 2,000 records for the writer to catch up with: seconds of CPU at idle priority's share
      const started = Date.now()
      const truth = await post(`${gw.url}/v1/models/credit-risk/ground-truth`, rows.map((_, i) => ({ inference_id: `busy-more-${i}:0`, label: i % 2 })))
      expect(truth.body).toMatchObject({ joined: 20, unknown_ids: [] })
      expect(Date.now() - started).toBeLessThan(3_000)
      await sendBatches('busy-last')
      await new Promise((r) => setTimeout(r, 1_500)) // the writer has relaxed again
      const stopping = Date.now()
      await gw.close()
      closed = true
      expect(Date.now() - stopping).toBeLessThan(3_000)
    } finally {
      if (!closed) await gw.close()
    }
    for (const p of busy) p.kill('SIGKILL')
    const again = await startGateway({ store: `sqlite:${join(dir, 'busy.db')}`, spillDir: join(dir, 'spill') })
    try {
      expect(await again.gateway.inferenceLog.count('credit-risk')).toBe(20 + 2 * 20 * BATCH_ROWS)
    } finally {
      await again.close()
    }
  })
})

describe('the inference log writer falling behind', () => {
  it.skipIf(!canRaise)('is hurried once it is more than maxWriterLagBytes behind, with no call waiting', async () => {
    const gw = await startGateway({ store: `sqlite:${join(dir, 'lag.db')}`, spillDir: join(dir, 'spill-lag'), maxWriterLagBytes: 256 * 1024 })
    try {
      const batch = creditRecords(BATCH_ROWS, 7)
      expect((await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: batch }, { 'x-inference-id': 'lag-first' })).status).toBe(200)
      expect(await gw.gateway.inferenceLog.count('credit-risk')).toBe(BATCH_ROWS) // it has had records, so it runs at idle priority
      await new Promise((r) => setTimeout(r, 1_500)) // relaxed after the call
      await keepCoresBusy(4)
      for (let i = 0; i < LAG_REQUESTS; i++) {
        expect((await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: batch }, { 'x-inference-id': `lag-${i}` })).status).toBe(200)
      }
      const sent = Date.now()
      // about 4 MB of events: over the lag bound, so the writer is hurried; workerStats come from the writer's own reports, not a call
      while (gw.gateway.inferenceLog.workerStats.written < (LAG_REQUESTS + 1) * BATCH_ROWS && Date.now() - sent < 10_000) await new Promise((r) => setTimeout(r, 100))
      expect(gw.gateway.inferenceLog.workerStats.written).toBe((LAG_REQUESTS + 1) * BATCH_ROWS)
      expect(Date.now() - sent).toBeLessThan(1_500) // 0.3-0.5 s here; about 2.5 s without the bound
    } finally {
      await gw.close()
    }
  })
})

describe('the mirror worker on a busy machine', () => {
  it.skipIf(!canRaise)('runs the mirrors that waited a second while the request thread was idle', async () => {
    const runner = new MirrorRunner(100, createLogger('silent'))
    const onnxPath = join(import.meta.dirname, '../../models/credit-risk/v3/model.onnx')
    const loaded = await loadSession(onnxPath, undefined)
    const { name, shape } = loaded.inputs[0]
    const width = shape[1] as number
    await loaded.session.release()
    try {
      await keepCoresBusy(4) // from before the worker starts: it lowers its priority first thing
      const started = Date.now()
      const runs = Array.from({ length: 20 }, (_, i) => new Promise<void>((resolve, reject) => {
        const data = Float32Array.from({ length: width }, (_, k) => ((k + i) * 37) % 100)
        const accepted = runner.run({ kind: 'onnx', key: 'credit-risk/v3/busy', onnxPath }, [{ name, type: 'float32', data, dims: [1, width] }], 1, (err) => (err === null ? resolve() : reject(err)))
        if (!accepted) reject(new Error('dropped'))
      }))
      await Promise.race([Promise.all(runs), new Promise((r) => setTimeout(r, 8_000))])
      expect(Date.now() - started).toBeLessThan(5_000) // without hurrying: over 8 s
    } finally {
      await runner.close()
    }
  })
})
