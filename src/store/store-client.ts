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
}

interface WaitingCall {
  resolve(value: unknown): void
  reject(err: unknown): void
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

  /** Calls posted and not yet answered. */
  get waiting(): number {
    return this.#waiting.size
  }

  run<A extends unknown[], T>(op: NamedOperation<A, T>, ...args: A): Promise<T> {
    return this.#call({ kind: 'run', name: op.name, args }) as Promise<T>
  }

  task<A extends unknown[], T>(task: TaskName<A, T>, ...args: A): Promise<T> {
    return this.#call({ kind: 'task', name: task.name, args }) as Promise<T>
  }

  flush(): Promise<void> {
    return this.#call({ kind: 'flush' }).then(() => undefined)
  }

  #call(call: StoreCall): Promise<unknown> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      if (this.#port.post({ code: 'CALL', id, call })) return
      this.#waiting.delete(id)
      reject(gatewayError('INFERENCE_LOG_DISABLED'))
    })
  }

  /** The worker's reply (or the owner's, for a call the worker will never see). */
  settle(reply: ReplyMessage): void {
    const call = this.#waiting.get(reply.id)
    this.#waiting.delete(reply.id)
    if (reply.ok) call?.resolve(reply.value)
    else call?.reject(errorOf(reply.failure))
  }

  /** The worker failed: every call it had not answered fails with its error. */
  abandon(err: unknown): void {
    for (const call of this.#waiting.values()) call.reject(err)
    this.#waiting.clear()
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
