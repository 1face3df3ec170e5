/**
 * The session thread's entry (session-thread.ts): loads and warms the version's own session,
 * then runs the feeds it is sent, one message a run, outputs in fresh buffers transferred back.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { runOnSession } from './run-coalescer.js'
import { loadSession } from './session.js'
import type { LoadedSession } from './session.js'
import type { FromSessionThread, SessionThreadData, ToSessionThread } from './session-thread.js'
import type { OutputTensor, RunOutputs } from './tensors.js'

const data = workerData as SessionThreadData
const port = parentPort!
let loaded: LoadedSession | null = null

function post(message: FromSessionThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer)
}

function run(id: number, message: ToSessionThread & { code: 'RUN' }): void {
  runOnSession(loaded!.session, message.feeds).then(
    (outputs) => {
      const own: Record<string, OutputTensor> = {}
      const transfer: ArrayBuffer[] = []
      for (const name in outputs) {
        const t = outputs[name]
        // a copy of our own to transfer: onnxruntime's output buffer is not ours to detach
        const data = Array.isArray(t.data) ? t.data : t.data.slice()
        if (!Array.isArray(data)) transfer.push(data.buffer as ArrayBuffer)
        own[name] = { type: t.type, data, dims: t.dims }
      }
      post({ code: 'DONE', id, outputs: own as RunOutputs }, transfer)
    },
    (err: unknown) => post({ code: 'FAILED', id, message: String((err as Error)?.message ?? err) }),
  )
}

port.on('message', (message: ToSessionThread) => {
  switch (message.code) {
    case 'RUN':
      return run(message.id, message)
    case 'RELEASE':
      // a drained version has no run in flight; at a stop, a run that comes after this fails, and the main side fails what it still waits for when the thread exits
      setImmediate(() => void (loaded?.session.release() ?? Promise.resolve()).catch(() => undefined).finally(() => port.close()))
      return
    default:
      throw new Error(`session worker: unexpected message ${JSON.stringify(message)}`)
  }
})

loadSession(data.onnxPath, data.sha256, data.warmup).then(
  (session) => {
    loaded = session
    post({ code: 'READY' })
  },
  (err: unknown) => post({ code: 'LOAD_FAILED', message: String((err as Error)?.message ?? err) }),
)
