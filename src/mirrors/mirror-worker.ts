/**
 * The mirror worker: scores shadow and challenger requests on its own thread with its own
 * onnxruntime sessions, so that a slow or failing mirror never holds up the event loop that
 * answers primaries (onnxruntime-node runs session.run synchronously on the calling thread).
 */
import { parentPort } from 'node:worker_threads'
import { RemoteRunner } from '../runtime/remote-runner.js'
import { inThread, RunCoalescer } from '../runtime/run-coalescer.js'
import { runAsPromise } from '../runtime/runner.js'
import type { Runner } from '../runtime/runner.js'
import { loadSession } from '../runtime/session.js'
import { namedOutputs, outputsOf, rowLayout, stackRows, takeRows } from '../runtime/rows.js'
import type { Feed, RunOutputs } from '../runtime/tensors.js'
import { runOnlyWhenIdle } from '../threads/thread-priority.js'
import { BATCH_MS } from './mirror-protocol.js'
import type { FromMirrorWorker, MirrorBatch, MirrorFailure, MirrorTarget, OutcomeGroup, ToMirrorWorker } from './mirror-protocol.js'

const MAX_RUN_ROWS = 1_024 // rows a coalesced mirror run
const runners = new Map<string, Promise<Runner>>()
// a mirror answers nobody: it waits for a free core, the primary does not (unless the runner hurries it)
parentPort!.postMessage({ code: 'PRIORITY', lowered: runOnlyWhenIdle() } satisfies FromMirrorWorker)

/** Remote calls happen here too: even their JSON and HTTP work stays off the request thread. */
function runnerFor(target: MirrorTarget): Promise<Runner> {
  let runner = runners.get(target.key)
  if (runner === undefined) {
    runner = target.kind === 'remote'
      ? Promise.resolve(new RemoteRunner(target.upstream, target.timeoutMs))
      : loadSession(target.onnxPath, undefined, target.warmup).then((s) => new RunCoalescer(inThread(s.session), { isBatchable: s.isBatchable, coalesce: true, maxRunRows: MAX_RUN_ROWS, batching: null }))
    runner.catch(() => runners.delete(target.key)) // try again next time
    runners.set(target.key, runner)
  }
  return runner
}

/** Answers waiting for the next message: done ones by output layout (to be stacked), and failures. */
let done = new Map<string, { ids: number[]; ms: number[]; rows: number[]; parts: Feed[][] }>()
let alone: OutcomeGroup[] = []
/** Buffers of `alone`'s outputs that are ours to transfer. */
let transferable: ArrayBuffer[] = []
let failures: MirrorFailure[] = []
let scheduled = false

function schedule(): void {
  if (scheduled) return
  scheduled = true
  setTimeout(sendOutcomes, BATCH_MS)
}

function answered(id: number, outputs: RunOutputs, ms: number): void {
  schedule()
  const named = namedOutputs(outputs)
  const rows = named[0]?.dims[0]
  if (rows === undefined || rows < 0 || !named.every((t) => t.dims[0] === rows)) {
    alone.push({ ids: [id], ms: [ms], rows: [-1], outputs })
    return
  }
  const layout = rowLayout(named)
  let group = done.get(layout)
  if (group === undefined) {
    group = { ids: [], ms: [], rows: [], parts: [] }
    done.set(layout, group)
  }
  group.ids.push(id)
  group.ms.push(ms)
  group.rows.push(rows)
  group.parts.push(named)
}

function failed(id: number, message: string): void {
  schedule()
  failures.push({ id, message })
}

function sendOutcomes(): void {
  scheduled = false
  const groups = alone
  const transfer: ArrayBuffer[] = transferable
  for (const group of done.values()) {
    const stacked = stackRows(group.parts, group.rows.reduce((n, r) => n + r, 0))
    for (const t of stacked) if (!Array.isArray(t.data)) transfer.push(t.data.buffer as ArrayBuffer)
    groups.push({ ids: group.ids, ms: group.ms, rows: group.rows, outputs: outputsOf(stacked) })
  }
  const message: FromMirrorWorker = { code: 'OUTCOMES', groups, failures }
  done = new Map()
  alone = []
  transferable = []
  failures = []
  parentPort!.postMessage(message, transfer)
}

function run(target: MirrorTarget, id: number, feeds: Feed[], rows: number): void {
  const started = performance.now()
  runnerFor(target)
    .then((runner) => runAsPromise(runner, feeds, rows))
    .then(
      (outputs) => answered(id, outputs, performance.now() - started),
      (err: unknown) => failed(id, String((err as Error)?.message ?? err)),
    )
}

/**
 * A batch of stacked jobs runs as it came, in one run, and its outputs go back as one group:
 * nothing is split and stacked again. If that run fails, or its outputs do not keep one row a
 * row, each job runs on its own rows instead, so that a job the model refuses fails alone.
 */
function runBatch(batch: MirrorBatch): void {
  const totalRows = batch.rows.reduce((n, r) => n + r, 0)
  const started = performance.now()
  runnerFor(batch.target)
    .then((runner) => runAsPromise(runner, batch.feeds, totalRows))
    .then(
      (outputs) => {
        const named = namedOutputs(outputs)
        if (!named.every((t) => t.dims[0] === totalRows)) return runEach(batch)
        let copied: ReturnType<typeof stackRows>
        try {
          copied = stackRows([named], totalRows) // fresh buffers of our own, to transfer
        } catch (err) {
          // every id gets an answer, or the request thread's in-flight bound would never come down
          for (const id of batch.ids) failed(id, String((err as Error)?.message ?? err))
          return
        }
        const ms = performance.now() - started
        schedule()
        alone.push({ ids: batch.ids, ms: batch.ids.map(() => ms), rows: batch.rows, outputs: outputsOf(copied) })
        for (const t of copied) if (!Array.isArray(t.data)) transferable.push(t.data.buffer as ArrayBuffer)
      },
      () => runEach(batch),
    )
}

/** Each job of a batch on its own rows: the coalescer shares a session.run among them again. */
function runEach(batch: MirrorBatch): void {
  let firstRow = 0
  for (let i = 0; i < batch.ids.length; i++) {
    const rows = batch.rows[i]
    const feeds = batch.ids.length === 1 ? batch.feeds : batch.feeds.map((f) => takeRows(f, firstRow, rows))
    run(batch.target, batch.ids[i], feeds, rows)
    firstRow += rows
  }
}

parentPort!.on('message', (message: ToMirrorWorker) => {
  switch (message.code) {
    case 'RUN':
      for (const batch of message.batches) {
        // a remote upstream gets one call a mirrored request, as it would from a client
        if (batch.ids.length > 1 && batch.target.kind === 'onnx') runBatch(batch)
        else runEach(batch)
      }
      return
    default:
      throw new Error(`mirror worker: unexpected message ${JSON.stringify(message)}`)
  }
})
