/**
 * The spill: when the store cannot take records and the in-memory buffer is full, records
 * are appended to a local file, one JSON line each, and delivered from it once the store is
 * back. Files left by an earlier run (a crash, or a stop while the store was down) are
 * delivered at the next start. Delivery is idempotent (each record has its record_id), so a
 * file replayed twice, or by two processes, stores each record once.
 */
import { appendFileSync, closeSync, createReadStream, mkdirSync, openSync, readdirSync, readSync, renameSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { StoredInference } from '../store/records.js'

const REPLAY_CHUNK = 1_000 // records an insert while replaying
const COUNT_READ_BYTES = 1 << 20 // 1 MiB a read when counting the records left at stop

export class SpillDirectory {
  readonly dir: string
  #file: string
  #rotations = 0
  /** Files delivered that could not be deleted, or unreadable ones that could not be renamed: not taken again by this process. */
  readonly #setAside = new Set<string>()

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
    return this.#deliverable()
  }

  /** Records in the files still to deliver (at stop: what the next start delivers). Lines, so a replay cut short counts its stored records too. */
  countRecords(): { records: number; files: number } {
    const files = this.#deliverable()
    let records = 0
    const buffer = Buffer.allocUnsafe(COUNT_READ_BYTES)
    for (const file of files) {
      let fd: number
      try {
        fd = openSync(file, 'r')
      } catch {
        continue // delivered meanwhile
      }
      try {
        for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) {
          const read = buffer.subarray(0, n)
          for (let i = read.indexOf(10); i !== -1; i = read.indexOf(10, i + 1)) records++ // one record a line
        }
      } finally {
        closeSync(fd)
      }
    }
    return { records, files: files.length }
  }

  #deliverable(): string[] {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return [] // no directory: nothing was ever spilled
    }
    return names
      .filter((n) => n.endsWith('.jsonl') && !writtenByAnotherLiveProcess(n))
      .sort()
      .map((n) => join(this.dir, n))
      .filter((f) => !this.#setAside.has(f))
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
      try {
        renameSync(file, `${file}.unreadable`)
      } catch {
        this.#setAside.add(file)
        throw new SpillFileUnreadable(`${file}: ${(err as Error).message}; it cannot be renamed either, and is left for the next start`)
      }
      throw new SpillFileUnreadable(`${file}: ${(err as Error).message}; renamed to ${file}.unreadable`)
    }
    if (chunk.length > 0) {
      await insert(chunk)
      delivered += chunk.length
    }
    try {
      unlinkSync(file)
    } catch (err) {
      // delivered but kept (the next start delivers it again, stored once): replaying it again now would never end
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#setAside.add(file)
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
