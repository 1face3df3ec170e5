/**
 * The main thread's side of the store worker's calls (calls.ts). The lifecycle, the comparison
 * and the inference log's API call the store through StoreCalls; the inference log, which owns
 * the worker thread, gives the client its way to the worker (a CallPort), so that each call
 * reaches the worker behind the records handed before it.
 */
import { gatewayError, SwitchyardError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { CallFailure, CallMessage, ReplyMessage, StoreCall, TaskName } from './calls.js'
import type { NamedOperation } from './operation.js'

export interface StoreCalls {
  /** False when the gateway runs without a store (`--store none`): every call fails with INFERENCE_LOG_DISABLED. */
  readonly isEnabled: boolean
  /** Run a named operation in the store, after every record handed to the worker before the call. */
  run<A extends unknown[], T>(op: NamedOperation<A, T>, ...args: A): Promise<T>
  /**
   * `run`, for the gateway's own periodic reads (the stage cache, the versions sent in, the drift
   * gauge): the worker, at idle priority while records flow, is not hurried for it unless it has
   * waited BACKGROUND_PATIENCE_MS. Hurried for each such read, the writer ran at normal priority
   * against the requests a third of the time.
   */
  runInBackground<A extends unknown[], T>(op: NamedOperation<A, T>, ...args: A): Promise<T>
  /** Run one of the store worker's own tasks, after every record handed to the worker before the call. */
  task<A extends unknown[], T>(task: TaskName<A, T>, ...args: A): Promise<T>
  /** Resolves when every record handed to the worker before the call is in the store. */
  flush(): Promise<void>
}

/** What the client needs from the owner of the worker thread. */
export interface CallPort {
  readonly isEnabled: boolean
  /**
   * Post the call to the worker, behind what was handed to it before; false when no worker
   * takes calls now (stopped, or failed and not yet replaced). If the worker goes before the
   * call reaches it, the owner settles the call (StoreClient.settle or abandon).
   */
  post(message: CallMessage): boolean
  /** A call waits that must not wait for a free core: the worker runs at normal priority until `urgentWaiting` is 0. */
  hurry(): void
}

/** How long a background call may wait for a free core before the worker is hurried for it. */
export const BACKGROUND_PATIENCE_MS = 1_000

interface WaitingCall {
  resolve(value: unknown): void
  reject(err: unknown): void
  /** Waited for now: every call but a background one that is still within its patience. */
  isUrgent: boolean
  patience: NodeJS.Timeout | null
}

export class StoreClient implements StoreCalls {
  readonly #port: CallPort
  readonly #waiting = new Map<number, WaitingCall>()
  #nextId = 1

  constructor(port: CallPort) {
    this.#port = port
  }

  get isEnabled(): boolean {
    return this.#port.isEnabled
  }

  /** Calls posted and not yet answered that the worker must not keep waiting (CallPort.hurry). */
  get urgentWaiting(): number {
    let urgent = 0
    for (const call of this.#waiting.values()) if (call.isUrgent) urgent++
    return urgent
  }

  run<A extends unknown[], T>(op: NamedOperation<A, T>, ...args: A): Promise<T> {
    return this.#call({ kind: 'run', name: op.name, args }, true) as Promise<T>
  }

  runInBackground<A extends unknown[], T>(op: NamedOperation<A, T>, ...args: A): Promise<T> {
    return this.#call({ kind: 'run', name: op.name, args }, false) as Promise<T>
  }

  task<A extends unknown[], T>(task: TaskName<A, T>, ...args: A): Promise<T> {
    return this.#call({ kind: 'task', name: task.name, args }, true) as Promise<T>
  }

  flush(): Promise<void> {
    return this.#call({ kind: 'flush' }, true).then(() => undefined)
  }

  #call(call: StoreCall, isUrgent: boolean): Promise<unknown> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const waiting: WaitingCall = { resolve, reject, isUrgent, patience: null }
      this.#waiting.set(id, waiting)
      if (!this.#port.post({ code: 'CALL', id, call })) {
        this.#waiting.delete(id)
        return reject(gatewayError('INFERENCE_LOG_DISABLED'))
      }
      if (isUrgent) return this.#port.hurry()
      waiting.patience = setTimeout(() => {
        waiting.isUrgent = true
        this.#port.hurry()
      }, BACKGROUND_PATIENCE_MS).unref()
    })
  }

  /** The worker's reply (or the owner's, for a call the worker will never see). */
  settle(reply: ReplyMessage): void {
    const call = this.#waiting.get(reply.id)
    if (call === undefined) return
    this.#forget(reply.id, call)
    if (reply.ok) call.resolve(reply.value)
    else call.reject(errorOf(reply.failure))
  }

  /** The worker failed: every call it had not answered fails with its error. */
  abandon(err: unknown): void {
    for (const [id, call] of this.#waiting) {
      this.#forget(id, call)
      call.reject(err)
    }
  }

  #forget(id: number, call: WaitingCall): void {
    if (call.patience !== null) clearTimeout(call.patience)
    this.#waiting.delete(id)
  }
}

function errorOf(failure: CallFailure): Error {
  switch (failure.kind) {
    case 'unavailable':
      return gatewayError('INFERENCE_STORE_UNAVAILABLE')
    case 'gateway':
      return new SwitchyardError(failure.code as ErrorCode, failure.status, failure.message, { details: failure.details })
    case 'error':
      return new Error(failure.message)
    default:
      throw new Error(`store client: unexpected failure ${JSON.stringify(failure satisfies never)}`)
  }
}
