/**
 * Getting rows into the store without losing any (runs on the store worker).
 *
 *   rows ─▶ buffer ─▶ store                       the usual path, a batch at a time
 *             │  store down and buffer full
 *             └─▶ spill file ─▶ store once back    (spill.ts)
 *                   │  even the disk refuses
 *                   └─▶ dropped: counted and logged, never silent
 *
 * One pump writes at a time. While the store is down it is retried with backoff; when it
 * is back, spilled files are delivered first, then the buffer. The pump looks at the spill
 * directory before each batch and ends only when it holds no file to deliver, so a file
 * spilled while another is replayed is delivered too (issue #14). A batch the store refuses
 * for its content (not its connection) is retried row by row, and a row that still fails
 * goes to a dead-letter file, counted as rejected, so one bad row cannot block the log.
 */
import { appendFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { StoredInference } from '../store/records.js'
import { SpillFileUnreadable } from './spill.js'
import type { SpillDirectory } from './spill.js'
import type { Store } from '../store/store.js'

const MAX_INSERT_ROWS = 1_000
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 2_000

export interface DeliveryStats {
  /** Rows waiting in memory. */
  buffered: number
  written: number
  /** Rows appended to a spill file. */
  spilled: number
  /** Rows delivered from spill files. */
  replayed: number
  /** Rows lost because even the spill file could not be written. */
  dropped: number
  /** Rows the store refused for their content, kept in the dead-letter file. */
  rejected: number
  storeUp: boolean
}

export interface DeliveryOptions {
  /** Opens (and migrates) the store; called again after a failure. */
  readonly connect: () => Promise<Store>
  readonly spill: SpillDirectory
  /** Rows kept in memory while the store is down before spilling to disk. */
  readonly maxBuffered: number
  readonly log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void
}

/** Rows added together, and what to call once every one of them has been handled. */
interface RowGroup {
  remaining: number
  readonly onHandled: () => void
}

export class Delivery {
  readonly stats: DeliveryStats = { buffered: 0, written: 0, spilled: 0, replayed: 0, dropped: 0, rejected: 0, storeUp: false }
  readonly #opts: DeliveryOptions
  #store: Store | null = null
  #buffer: StoredInference[] = []
  /** Each buffered row's group (null: nobody waits for it), kept in step with #buffer. */
  #groups: (RowGroup | null)[] = []
  /** Rows that have left the buffer: stored, spilled, rejected or dropped. */
  #handledRows = 0
  #pumping: Promise<void> | null = null
  #retryTimer: NodeJS.Timeout | null = null
  #retryMs = RETRY_MIN_MS
  /** The stop has begun: a store that is down is not retried. */
  #isClosing = false
  /** The stop's deadline has passed: no more writing, what is left stays spilled. */
  #isClosed = false
  /** The batch being inserted. */
  #inFlightBatch: { rows: StoredInference[]; groups: (RowGroup | null)[] } | null = null

  constructor(opts: DeliveryOptions) {
    this.#opts = opts
  }

  get #inFlightRows(): number {
    return this.#inFlightBatch?.rows.length ?? 0
  }

  get store(): Store | null {
    return this.stats.storeUp ? this.#store : null
  }

  /**
   * Take rows for delivery. `onHandled` is called once every one of them is in the store, in
   * the spill file, or counted as rejected or dropped: nothing of them is only in memory any more.
   */
  add(rows: readonly StoredInference[], onHandled?: () => void): void {
    const group = onHandled === undefined ? null : { remaining: rows.length, onHandled }
    if (group !== null && rows.length === 0) onHandled!()
    for (const r of rows) {
      this.#buffer.push(r)
      this.#groups.push(group)
    }
    this.stats.buffered = this.#buffer.length
    // bounded whether the store is down or only slow: the excess waits on disk instead of in memory
    if (this.#buffer.length > this.#opts.maxBuffered) this.#spill(this.#buffer.length - this.#opts.maxBuffered)
    void this.pump()
  }

  /** An event that could not be decoded: kept in the dead-letter file and counted as rejected. */
  unreadable(line: string, err: unknown): void {
    this.#deadLetter({ unreadable_event: line.slice(0, 10_000) }, err)
  }

  #handle(groups: readonly (RowGroup | null)[]): void {
    this.#handledRows += groups.length
    for (const g of groups) if (g !== null && --g.remaining === 0) g.onHandled()
  }

  /** Write what can be written now; resolves when the buffer is empty or the store is down. */
  pump(): Promise<void> {
    this.#pumping ??= this.#writeAll().finally(() => {
      this.#pumping = null
    })
    return this.#pumping
  }

  /**
   * Every row received before this call is in the store (true), or the store is down (false).
   * Rows arriving meanwhile are not waited for, so a call cannot wait forever under load.
   */
  async drain(): Promise<boolean> {
    const target = this.#handledRows + this.#buffer.length + this.#inFlightRows
    await this.pump()
    while (this.stats.storeUp && this.#handledRows < target && this.#buffer.length > 0) await this.pump()
    return this.#handledRows >= target || (this.#buffer.length === 0 && this.#inFlightRows === 0)
  }

  /** At stop: deliver what can be delivered within `deadlineMs`, spill the rest for the next start. */
  async close(deadlineMs: number): Promise<void> {
    this.#isClosing = true
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
    let timer: NodeJS.Timeout | undefined
    // one more try for the store if it was down, then the buffer and every spill file (the pump's loop)
    await Promise.race([this.drain(), new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs)))])
    clearTimeout(timer)
    this.#isClosed = true
    // a batch still being inserted may land as well as be spilled: replay skips what is stored (record_id)
    const inFlight = this.#inFlightBatch
    if (inFlight !== null) {
      this.#buffer.unshift(...inFlight.rows)
      this.#groups.unshift(...inFlight.groups.map(() => null)) // its groups are counted when its insert ends
    }
    if (this.#buffer.length > 0) this.#spill(this.#buffer.length)
    await this.#store?.close().catch(() => {})
    const left = this.#opts.spill.countRecords()
    if (left.records > 0) {
      this.#opts.log('warn', 'inference records are left in spill files; the next start delivers them', { records_left: left.records, files: left.files, dir: this.#opts.spill.dir })
    }
  }

  async #writeAll(): Promise<void> {
    if (this.#retryTimer !== null || this.#isClosed) return // waiting for the store to come back, or stopped
    if (!(await this.#ensureStore())) return
    try {
      for (;;) {
        if (this.#isClosed) return
        // the directory, not a flag, says whether files wait: rows overflowing while a file is
        // replayed or a batch inserted spill meanwhile, and a flag cleared after a replay lost them (issue #14)
        const files = this.#opts.spill.takeFiles()
        if (files.length > 0) {
          await this.#replaySpill(files)
          continue
        }
        if (this.#buffer.length === 0) break
        // out of the buffer while it is inserted, so that a spill meanwhile (rows arriving
        // during a PostgreSQL insert) cannot take it too; back at the front if the insert fails
        const batch = this.#buffer.splice(0, MAX_INSERT_ROWS)
        const groups = this.#groups.splice(0, batch.length)
        this.#inFlightBatch = { rows: batch, groups }
        this.stats.buffered = this.#buffer.length
        try {
          await this.#insert(batch)
        } catch (err) {
          this.#buffer.unshift(...batch)
          this.#groups.unshift(...groups)
          this.stats.buffered = this.#buffer.length
          throw err
        } finally {
          this.#inFlightBatch = null
        }
        this.stats.written += batch.length
        this.#handle(groups)
      }
      this.#retryMs = RETRY_MIN_MS
    } catch (err) {
      if (this.#isClosed) return // stopped at the deadline: what is left is in the spill files
      this.#down(err)
    }
  }

  async #ensureStore(): Promise<boolean> {
    if (this.stats.storeUp) return true
    try {
      const store = await this.#opts.connect()
      if (this.#isClosed) {
        await store.close().catch(() => {}) // connected after the stop's deadline
        return false
      }
      this.#store = store
      this.stats.storeUp = true
      this.#opts.log('info', 'inference log store is available')
      return true
    } catch (err) {
      this.#down(err)
      return false
    }
  }

  #down(err: unknown): void {
    if (this.stats.storeUp || this.#retryMs === RETRY_MIN_MS) {
      this.#opts.log('warn', 'inference log store is unavailable; records wait in memory, then in the spill file', { err: String((err as Error)?.message ?? err), buffered: this.#buffer.length })
    }
    if (this.stats.storeUp) {
      this.stats.storeUp = false
      void this.#store?.close().catch(() => {})
      this.#store = null
    }
    if (this.#buffer.length > this.#opts.maxBuffered) this.#spill(this.#buffer.length - this.#opts.maxBuffered)
    if (this.#isClosing) return // a stop does not wait for the store: close() spills the rest
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      void this.pump()
    }, this.#retryMs)
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS)
  }

  /** Insert a batch; a batch refused for its content is split, and rows refused alone go to the dead-letter file. */
  async #insert(batch: StoredInference[]): Promise<void> {
    const store = this.#store!
    try {
      await store.insert(batch)
    } catch (err) {
      if (isTransient(err)) throw err
      for (const row of batch) {
        try {
          await store.insert([row])
        } catch (rowErr) {
          if (isTransient(rowErr)) throw rowErr
          this.#deadLetter(row, rowErr)
        }
      }
    }
  }

  async #replaySpill(files: readonly string[]): Promise<void> {
    for (const file of files) {
      let n: number
      try {
        n = await this.#opts.spill.replay(file, (rows) => {
          if (this.#isClosed) throw new Error('the stop\'s deadline has passed') // the file stays for the next start
          return this.#insert(rows)
        })
      } catch (err) {
        if (!(err instanceof SpillFileUnreadable)) throw err // the store failed: retried later
        this.#opts.log('error', 'a spill file cannot be read; it was set aside and the others are delivered', { err: err.message })
        continue
      }
      this.stats.replayed += n
      if (n > 0) this.#opts.log('info', 'delivered spilled inference records', { file, records: n })
    }
  }

  #spill(count: number): void {
    const rows = this.#buffer.splice(0, count)
    const groups = this.#groups.splice(0, rows.length)
    this.stats.buffered = this.#buffer.length
    try {
      this.#opts.spill.append(rows)
      this.stats.spilled += rows.length
    } catch (err) {
      this.stats.dropped += rows.length
      this.#opts.log('error', 'inference records dropped: the store is down and the spill file cannot be written', {
        dropped: rows.length, dropped_total: this.stats.dropped, dir: this.#opts.spill.dir, err: String((err as Error)?.message ?? err),
      })
      // not handled for their groups: the journal files that hold them stay, for the next start
      this.#handledRows += groups.length
      return
    }
    this.#handle(groups)
  }

  #deadLetter(row: StoredInference | { unreadable_event: string }, err: unknown): void {
    this.stats.rejected++
    const file = join(this.#opts.spill.dir, 'rejected.jsonl.dead')
    const id = 'record_id' in row ? row.record_id : null
    try {
      mkdirSync(this.#opts.spill.dir, { recursive: true })
      appendFileSync(file, JSON.stringify({ error: String((err as Error)?.message ?? err), record: row }) + '\n')
      this.#opts.log('error', 'an inference record could not be stored; it is kept in the dead-letter file', { record_id: id, file, err: String((err as Error)?.message ?? err) })
    } catch {
      this.stats.dropped++
      this.#opts.log('error', 'an inference record could not be stored and the dead-letter file cannot be written; it is dropped', { record_id: id })
    }
  }
}

/**
 * Whether a failure is about the rows (retrying cannot help: PostgreSQL classes 22, data
 * exceptions, and 23, constraint violations; SQLite constraint, too-big and mismatch errors)
 * rather than about reaching the store. Everything else — connections, timeouts, a read-only
 * failover, deadlocks, a full disk — is retried: a row is never dead-lettered for an outage.
 */
export function isTransient(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '')
  if (/^(22|23)[0-9A-Z]{3}$/.test(code)) return false
  if (/^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH)/.test(code)) return false
  return true
}
