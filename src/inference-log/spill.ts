/**
 * The spill: when the store cannot take records and the in-memory buffer is full, records
 * are appended to a local file, one JSON line each, and delivered from it once the store is
 * back. Files left by an earlier run (a crash, or a stop while the store was down) are
 * delivered at the next start. Delivery is idempotent (each record has its record_id), so a
 * file replayed twice, or by two processes, stores each record once.
 */
import { appendFileSync, createReadStream, mkdirSync, readdirSync, renameSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { StoredInference } from './event.js'

const REPLAY_CHUNK = 1_000 // records an insert while replaying

export class SpillDirectory {
  readonly dir: string
  #file: string
  #rotations = 0

  constructor(dir: string) {
    this.dir = dir
    this.#file = this.#nextName()
  }

  #nextName(): string {
    return join(this.dir, `inference-log-${process.pid}-${Date.now()}-${this.#rotations++}.jsonl`)
  }

  /** Append rows; throws when even the disk refuses them (the caller counts them as dropped). */
  append(rows: readonly StoredInference[]): void {
    mkdirSync(this.dir, { recursive: true })
    appendFileSync(this.#file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n')
  }

  /** The files to deliver, oldest first; appends from now on go to a new file, so none is written while it is replayed. */
  takeFiles(): string[] {
    this.#file = this.#nextName()
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return [] // no directory: nothing was ever spilled
    }
    return names.filter((n) => n.endsWith('.jsonl') && !writtenByAnotherLiveProcess(n)).sort().map((n) => join(this.dir, n))
  }

  /**
   * Deliver one file through `insert`, a chunk at a time, then delete it. Resolves to the
   * number of records delivered; rejects (keeping the file) when an insert fails.
   */
  async replay(file: string, insert: (rows: StoredInference[]) => Promise<void>): Promise<number> {
    let delivered = 0
    let chunk: StoredInference[] = []
    let inserting = false
    try {
      const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })
      for await (const line of lines) {
        if (line.length === 0) continue
        let row: StoredInference
        try {
          row = JSON.parse(line) as StoredInference
        } catch {
          continue // a line cut short by a kill -9 while appending: the rest of the file is still good
        }
        chunk.push(row)
        if (chunk.length === REPLAY_CHUNK) {
          inserting = true
          await insert(chunk)
          inserting = false
          delivered += chunk.length
          chunk = []
        }
      }
    } catch (err) {
      if (inserting) throw err // the store failed: keep the file for the next attempt
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return delivered // another process delivered it
      // the file cannot be read: set it aside rather than block every later delivery on it
      renameSync(file, `${file}.unreadable`)
      throw new SpillFileUnreadable(`${file}: ${(err as Error).message}; renamed to ${file}.unreadable`)
    }
    if (chunk.length > 0) {
      await insert(chunk)
      delivered += chunk.length
    }
    try {
      unlinkSync(file)
    } catch {
      // already gone
    }
    return delivered
  }
}

export class SpillFileUnreadable extends Error {}

/** A file another gateway on this machine is still appending to (its name carries the pid): not ours to replay. */
function writtenByAnotherLiveProcess(name: string): boolean {
  const pid = Number(/^inference-log-(\d+)-/.exec(name)?.[1])
  if (!Number.isSafeInteger(pid) || pid === process.pid) return false
  return isProcessAlive(pid)
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0) // signal 0: only asks whether the process exists
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // exists, owned by another user
  }
}
