/**
 * Which versions of each model have inferences sent in, for the catalog to answer without the
 * store: a copy of the store's sent_in_versions, updated by this process's own sends at once
 * and read again every few seconds, so that a file uploaded through another replica is seen.
 */
import type { StoreCalls } from '../store/store-client.js'
import { SENT_IN_OPERATIONS } from './sent-in.js'

const REFRESH_MS = 5_000 // as the stage cache (lifecycle/lifecycle.ts)

export class SentInVersions {
  #byModel = new Map<string, Set<string>>()
  readonly #store: StoreCalls
  readonly #timer: NodeJS.Timeout | null

  constructor(store: StoreCalls) {
    this.#store = store
    this.#timer = store.isEnabled ? setInterval(() => void this.refresh(), REFRESH_MS).unref() : null
  }

  /** The model's versions with records sent in, in no particular order. */
  of(model: string): readonly string[] {
    return [...(this.#byModel.get(model) ?? [])]
  }

  note(model: string, versions: Iterable<string>): void {
    const known = this.#byModel.get(model) ?? new Set<string>()
    for (const v of versions) known.add(v)
    this.#byModel.set(model, known)
  }

  async refresh(): Promise<void> {
    try {
      // the table never loses a row: adding what it holds keeps a note made meanwhile
      for (const { model, version } of await this.#store.runInBackground(SENT_IN_OPERATIONS.versions)) this.note(model, [version])
    } catch {
      // the store is down: the copy keeps what it saw
    }
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
  }
}
