/**
 * Calls from the main thread to the store worker, and their replies: a closed protocol.
 *
 *   main thread (store-client.ts)                     store worker (answerCall)
 *   { code: 'CALL', id, call: { kind: 'run', name, args } }  ──▶  catch up, then store.run(op, mode)
 *   { code: 'REPLY', id, ok, value | failure }               ◀──
 *
 * A call names its operation (operation.ts namedOperations): generators cannot cross threads,
 * their names and arguments can. Every call first waits for what the worker received before
 * it (the inference log's records), so a caller finds the records it was answered for.
 */
import { isGatewayError } from '../errors.js'
import type { OperationIndex } from './operation.js'
import type { Store } from './store.js'

export type StoreCall =
  /** Run a named operation with these arguments (structured-cloneable). */
  | { readonly kind: 'run'; readonly name: string; readonly args: readonly unknown[] }
  /** Run one of the worker's own tasks by name (WorkerTasks): work of more than one transaction. */
  | { readonly kind: 'task'; readonly name: string; readonly args: readonly unknown[] }
  /** Nothing but the wait: resolves once what the worker received before it is in the store. */
  | { readonly kind: 'flush' }

export interface CallMessage {
  readonly code: 'CALL'
  readonly id: number
  readonly call: StoreCall
}

export type CallFailure =
  /** The store is down (the worker keeps the records and retries): the caller may try again shortly. */
  | { readonly kind: 'unavailable' }
  /** A catalogue error (errors.ts), such as a lifecycle rule refusing a change: rebuilt as it was. */
  | { readonly kind: 'gateway'; readonly code: string; readonly status: number; readonly message: string; readonly details?: Record<string, unknown> }
  | { readonly kind: 'error'; readonly message: string }

export type ReplyMessage =
  | { readonly code: 'REPLY'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly code: 'REPLY'; readonly id: number; readonly ok: false; readonly failure: CallFailure }

/**
 * A task the main thread names: what the worker does for it is its own (the inferences sent
 * in are written by the records' writer, not by an operation). The types are the caller's.
 */
export interface TaskName<A extends unknown[], T> {
  readonly name: string
  /** Never set: carries the argument and result types to StoreCalls.task. */
  readonly types?: (...args: A) => T
}

/** The worker's tasks by name; each waits for the store itself if it needs it. */
export type WorkerTasks = ReadonlyMap<string, (...args: any[]) => Promise<unknown>>

const NO_TASKS: WorkerTasks = new Map()

/** Thrown by the worker's catch-up when the store is down. */
export class StoreUnavailable extends Error {}

/**
 * The worker's side: the call, run on the store once `caughtUp` gives it (after every record
 * received before the call), and its reply. Never rejects: a failure is a reply too.
 */
export async function answerCall(message: CallMessage, caughtUp: () => Promise<Store>, operations: OperationIndex, tasks: WorkerTasks = NO_TASKS): Promise<ReplyMessage> {
  try {
    return { code: 'REPLY', id: message.id, ok: true, value: await perform(message.call, caughtUp, operations, tasks) }
  } catch (err) {
    return { code: 'REPLY', id: message.id, ok: false, failure: failureOf(err) }
  }
}

async function perform(call: StoreCall, caughtUp: () => Promise<Store>, operations: OperationIndex, tasks: WorkerTasks): Promise<unknown> {
  switch (call.kind) {
    case 'run': {
      const op = operations.get(call.name)
      if (op === undefined) throw new Error(`the store worker has no operation '${call.name}'`)
      const store = await caughtUp()
      return store.run(op.start(...call.args), op.mode)
    }
    case 'task': {
      const task = tasks.get(call.name)
      if (task === undefined) throw new Error(`the store worker has no task '${call.name}'`)
      return task(...call.args)
    }
    case 'flush':
      await caughtUp()
      return null
    default:
      throw new Error(`store worker: unexpected call ${JSON.stringify(call satisfies never)}`)
  }
}

function failureOf(err: unknown): CallFailure {
  if (err instanceof StoreUnavailable) return { kind: 'unavailable' }
  const message = String((err as Error)?.message ?? err)
  if (isGatewayError(err)) return { kind: 'gateway', code: err.code, status: err.status, message, details: err.details as Record<string, unknown> | undefined }
  return { kind: 'error', message }
}
