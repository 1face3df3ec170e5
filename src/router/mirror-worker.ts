/**
 * The mirror worker: scores shadow and challenger requests on its own thread with its own
 * onnxruntime sessions, so that a slow or failing mirror never holds up the event loop that
 * answers primaries (onnxruntime-node runs session.run synchronously on the calling thread).
 */
import { parentPort } from 'node:worker_threads'
import { RemoteRunner } from '../runtime/remote-runner.js'
import { RunCoalescer } from '../runtime/run-coalescer.js'
import type { Runner } from '../runtime/runner.js'
import { loadSession } from '../runtime/session.js'
import { takeRows } from '../runtime/rows.js'
import type { Feed } from '../runtime/tensors.js'
import { BATCH_MS } from './mirror-protocol.js'
import type { FromMirrorWorker, MirrorOutcome, MirrorTarget, ToMirrorWorker } from './mirror-protocol.js'

const MAX_RUN_ROWS = 1_024 // rows a coalesced mirror run
const runners = new Map<string, Promise<Runner>>()

/** Remote calls happen here too: even their JSON and HTTP work stays off the request thread. */
function runnerFor(target: MirrorTarget): Promise<Runner> {
  let runner = runners.get(target.key)
  if (runner === undefined) {
    runner = target.kind === 'remote'
      ? Promise.resolve(new RemoteRunner(target.upstream, target.timeoutMs))
      : loadSession(target.onnxPath, undefined).then((s) => new RunCoalescer(s.session, { isBatchable: s.isBatchable, coalesce: true, maxRunRows: MAX_RUN_ROWS }))
    runner.catch(() => runners.delete(target.key)) // try again next time
    runners.set(target.key, runner)
  }
  return runner
}

let outbox: MirrorOutcome[] = []

function reply(outcome: MirrorOutcome): void {
  if (outbox.length === 0) setTimeout(sendOutcomes, BATCH_MS)
  outbox.push(outcome)
}

function sendOutcomes(): void {
  const message: FromMirrorWorker = { code: 'OUTCOMES', outcomes: outbox }
  outbox = []
  parentPort!.postMessage(message)
}

function run(target: MirrorTarget, id: number, feeds: Feed[], rows: number): void {
  const started = performance.now()
  runnerFor(target)
    .then((runner) => runner.run(feeds, rows))
    .then(
      (outputs) => reply({ code: 'DONE', id, outputs, ms: performance.now() - started }),
      (err: unknown) => reply({ code: 'FAILED', id, message: String((err as Error)?.message ?? err) }),
    )
}

parentPort!.on('message', (message: ToMirrorWorker) => {
  switch (message.code) {
    case 'RUN':
      for (const batch of message.batches) {
        // each job runs on its own rows again: the coalescer shares a session.run among them,
        // and a job the model refuses fails alone
        let firstRow = 0
        for (let i = 0; i < batch.ids.length; i++) {
          const rows = batch.rows[i]
          const feeds = batch.ids.length === 1 ? batch.feeds : batch.feeds.map((f) => takeRows(f, firstRow, rows))
          run(batch.target, batch.ids[i], feeds, rows)
          firstRow += rows
        }
      }
      return
    default:
      throw new Error(`mirror worker: unexpected message ${JSON.stringify(message)}`)
  }
})
