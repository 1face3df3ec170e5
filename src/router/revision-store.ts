/**
 * Where the route revisions live when the gateway has a store (store/route-revisions.ts).
 * Writes and the history go through the store worker, like the lifecycle's calls. The poll
 * for the revision in force, every REVISION_POLL_MS on every replica, has a read-only
 * connection of its own on this thread: through the worker, each poll would wait for the
 * records before it and keep the worker hurried (inference-log.ts), taking the core that
 * requests use. A SQLite poll took 0.1 ms here (two a second: 0.02 % of this thread; a
 * one-off script over dist/, 20,000 polls); PostgreSQL's is asynchronous.
 */
import { openStore } from '../store/open-store.js'
import { ROUTE_REVISION_OPERATIONS as OPS } from '../store/route-revisions.js'
import type { NewFileRevision, RevisionWithSource, StoredRevision } from '../store/route-revisions.js'
import type { Operation } from '../store/operation.js'
import type { Store } from '../store/store.js'
import type { StoreCalls } from '../store/store-client.js'
import type { StoreSpec } from '../store/store-spec.js'
import { head, headWithSource } from '../store/route-revisions.js'

export const REVISION_POLL_MS = 500 // how soon a revision applied on another replica is applied here (the goal: 2 s)

export class RevisionStore {
  readonly #calls: StoreCalls
  readonly #spec: Exclude<StoreSpec, { kind: 'none' }>
  #reader: Promise<Store> | null = null
  #isClosed = false

  constructor(calls: StoreCalls, spec: Exclude<StoreSpec, { kind: 'none' }>) {
    this.#calls = calls
    this.#spec = spec
  }

  recordFile(file: NewFileRevision): Promise<{ head: RevisionWithSource; file: RevisionWithSource }> {
    return this.#calls.run(OPS.recordFile, file)
  }

  rollback(to: number, trigger: string, actor: string): Promise<{ changed: boolean; head: RevisionWithSource }> {
    return this.#calls.run(OPS.rollback, to, trigger, actor)
  }

  revision(number: number): Promise<RevisionWithSource> {
    return this.#calls.run(OPS.revision, number)
  }

  history(): Promise<StoredRevision[]> {
    return this.#calls.run(OPS.history)
  }

  /** The revision in force, read on this thread's own connection. */
  head(): Promise<StoredRevision | null> {
    return this.readOnly(head())
  }

  headWithSource(): Promise<RevisionWithSource | null> {
    return this.readOnly(headWithSource())
  }

  /** Any read, on this thread's own connection: what every replica polls (canaries.ts follows canaries this way). */
  async readOnly<T>(op: Operation<T>): Promise<T> {
    return (await this.#read()).run(op, 'read')
  }

  /** The store worker's calls, for writes. */
  get calls(): StoreCalls {
    return this.#calls
  }

  async #read(): Promise<Store> {
    if (this.#isClosed) throw new Error('the revision store is closed')
    // opened at the first poll, when the store worker has created and migrated the store
    this.#reader ??= openStore(this.#spec, { readonly: true })
    try {
      return await this.#reader
    } catch (err) {
      this.#reader = null // tried again at the next poll
      throw err
    }
  }

  async close(): Promise<void> {
    this.#isClosed = true
    const reader = this.#reader
    this.#reader = null
    await (await reader?.catch(() => null))?.close()
  }
}
