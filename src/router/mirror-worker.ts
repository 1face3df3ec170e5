/**
 * The mirror worker: scores shadow and challenger requests on its own thread with its own
 * onnxruntime sessions, so that a slow or failing mirror never holds up the event loop that
 * answers primaries (onnxruntime-node runs session.run synchronously on the calling thread).
 */
import { parentPort } from 'node:worker_threads'
import { RunCoalescer } from '../runtime/run-coalescer.js'
import { loadSession } from '../runtime/session.js'
import type { FromMirrorWorker, ToMirrorWorker } from './mirror-protocol.js'

const MAX_RUN_ROWS = 1_024 // rows a coalesced mirror run
const sessions = new Map<string, Promise<RunCoalescer>>()

function runnerFor(key: string, onnxPath: string): Promise<RunCoalescer> {
  let runner = sessions.get(key)
  if (runner === undefined) {
    runner = loadSession(onnxPath, undefined).then((s) => new RunCoalescer(s.session, { isBatchable: s.isBatchable, coalesce: true, maxRunRows: MAX_RUN_ROWS }))
    runner.catch(() => sessions.delete(key)) // try again next time
    sessions.set(key, runner)
  }
  return runner
}

function reply(message: FromMirrorWorker): void {
  parentPort!.postMessage(message)
}

parentPort!.on('message', (message: ToMirrorWorker) => {
  switch (message.code) {
    case 'RUN': {
      const started = performance.now()
      runnerFor(message.key, message.onnxPath)
        .then((runner) => runner.run(message.feeds, message.rows))
        .then(
          (outputs) => reply({ code: 'DONE', id: message.id, outputs, ms: performance.now() - started }),
          (err: unknown) => reply({ code: 'FAILED', id: message.id, message: String((err as Error)?.message ?? err) }),
        )
      return
    }
    case 'RELEASE':
      sessions.delete(message.key)
      return
    default:
      throw new Error(`mirror worker: unexpected message ${JSON.stringify(message)}`)
  }
})
