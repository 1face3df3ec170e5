/**
 * The journal: every chunk of events (event-codec.ts) is appended, as it is, to a file in the
 * spill directory before the store worker gets it, so that a record is on disk within half a
 * flush interval of its answer whatever the worker and the store are doing. The worker runs only
 * when a core is free (threads/thread-priority.ts runOnlyWhenIdle) and may be seconds behind on a busy
 * machine; a kill -9 then loses nothing the journal holds: the next start delivers it.
 *
 *   request thread ── chunk ──▶ journal file (append, libuv's threads) ──▶ store worker (transferred,
 *                                                                          or read back from the file)
 *   store worker: rows handled (stored, spilled or counted) ──▶ a file wholly handled is deleted
 *
 *   a file:  frame*   frame: u32 MAGIC  u32 payload bytes  u32 events  u32 0   payload
 *   name:    journal-<pid>-<boot id>-<n>.bin    (a new file every ROTATE_BYTES)
 *
 * Appends run one at a time, in order, and each calls back in that order: a chunk is handed to
 * the worker only once it is in the file, and calls to the worker queue behind the chunks
 * before them (barrier).
 */
import { closeSync, openSync, readdirSync, readSync, statSync, unlinkSync, writev } from 'node:fs'
import { close as closeFile, mkdirSync, open as openFile } from 'node:fs'
import { join } from 'node:path'
import type { EventChunk } from './event-codec.js'

const MAGIC = 0x314e_4a53 // 'SJN1' read little-endian
const FRAME_HEADER_BYTES = 16
const ROTATE_BYTES = 64 * 1024 * 1024 // 64 MiB a file

/** Where one chunk's events lie in the journal: its payload is `bytes` bytes at `offset` of `file`. */
export interface JournalPlace {
  readonly file: string
  readonly offset: number
  readonly bytes: number
}

interface Pending {
  readonly chunk: EventChunk | null // null: a barrier
  readonly done: (place: JournalPlace | null, err: Error | null) => void
}

export class Journal {
  readonly dir: string
  readonly #prefix: string
  #fd: number | null = null
  #file = ''
  #size = 0
  #rotations = 0
  readonly #queue: Pending[] = []
  #isWriting = false
  readonly #rotateBytes: number

  constructor(dir: string, bootId: string, rotateBytes = ROTATE_BYTES) {
    this.dir = dir
    this.#prefix = `journal-${process.pid}-${bootId}-`
    this.#rotateBytes = rotateBytes
  }

  /** Append a chunk; `done` gets where it lies, or the error that kept it out of the file (the chunk is then only in memory). */
  append(chunk: EventChunk, done: (place: JournalPlace | null, err: Error | null) => void): void {
    this.#queue.push({ chunk, done })
    this.#next()
  }

  /** Call `done` once every append queued before it has called back. */
  barrier(done: () => void): void {
    this.#queue.push({ chunk: null, done: () => done() })
    this.#next()
  }

  /**
   * End the current file; the next append starts a new one. Returns this process's journal
   * files as they are now, all of them whole (call it between appends: from a barrier).
   */
  rotate(): string[] {
    this.#abandonFile()
    try {
      return readdirSync(this.dir).filter((n) => n.startsWith(this.#prefix)).sort().map((n) => join(this.dir, n))
    } catch {
      return []
    }
  }

  /** Resolves when every queued append is written; then the file is closed. */
  close(): Promise<void> {
    return new Promise((resolve) => this.barrier(() => {
      if (this.#fd !== null) closeFile(this.#fd, () => resolve())
      else resolve()
      this.#fd = null
    }))
  }

  #next(): void {
    if (this.#isWriting) return
    const op = this.#queue.shift()
    if (op === undefined) return
    if (op.chunk === null) {
      op.done(null, null)
      return this.#next()
    }
    this.#isWriting = true
    const chunk = op.chunk
    const finish = (place: JournalPlace | null, err: Error | null): void => {
      this.#isWriting = false
      op.done(place, err)
      this.#next()
    }
    this.#ensureFile((err) => {
      if (err !== null) return finish(null, err)
      const header = Buffer.alloc(FRAME_HEADER_BYTES)
      header.writeUInt32LE(MAGIC, 0)
      header.writeUInt32LE(chunk.bytes, 4)
      header.writeUInt32LE(chunk.events, 8)
      const place: JournalPlace = { file: this.#file, offset: this.#size + FRAME_HEADER_BYTES, bytes: chunk.bytes }
      writev(this.#fd!, [header, new Uint8Array(chunk.buffer, 0, chunk.bytes)], (writeErr, written) => {
        if (writeErr !== null || written !== FRAME_HEADER_BYTES + chunk.bytes) {
          this.#abandonFile() // a torn frame ends the file for readers; the next append starts a new one
          return finish(null, writeErr ?? new Error(`short write to ${this.#file}`))
        }
        this.#size += written
        finish(place, null)
      })
    })
  }

  /** The file to append to: the current one, or a new one after ROTATE_BYTES or a failure. */
  #ensureFile(then: (err: Error | null) => void): void {
    if (this.#fd !== null && this.#size < this.#rotateBytes) return then(null)
    if (this.#fd !== null) this.#abandonFile()
    try {
      mkdirSync(this.dir, { recursive: true })
    } catch (err) {
      return then(err as Error)
    }
    const file = join(this.dir, `${this.#prefix}${String(this.#rotations++).padStart(6, '0')}.bin`)
    openFile(file, 'a', (err, fd) => {
      if (err !== null) return then(err)
      this.#fd = fd
      this.#file = file
      this.#size = 0
      then(null)
    })
  }

  #abandonFile(): void {
    if (this.#fd !== null) closeFile(this.#fd, () => {})
    this.#fd = null
  }
}

/**
 * The journal files in `dir` (oldest first) whose writer is gone: its pid is not alive, or it is
 * this process's pid under another boot id (a container's gateway is often pid 1 every time).
 */
export function orphanJournals(dir: string, isGone: (pid: number) => boolean, ownBootId: string): { file: string; bootId: string }[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const found: { file: string; bootId: string; pid: number }[] = []
  for (const name of names) {
    const m = /^journal-(\d+)-([0-9a-f]{12})-\d+\.bin$/.exec(name)
    if (m === null) continue
    found.push({ file: join(dir, name), pid: Number(m[1]), bootId: m[2] })
  }
  return found
    .filter((f) => (f.pid === process.pid ? f.bootId !== ownBootId : isGone(f.pid)))
    .sort((a, b) => (a.file < b.file ? -1 : 1))
    .map(({ file, bootId }) => ({ file, bootId }))
}

/** Read one chunk's payload back (the store worker, when the request thread sent only its place). */
export function readJournalPlace(place: JournalPlace): Buffer {
  const fd = openSync(place.file, 'r')
  try {
    const out = Buffer.allocUnsafe(place.bytes)
    let read = 0
    while (read < place.bytes) {
      const n = readSync(fd, out, read, place.bytes - read, place.offset + read)
      if (n === 0) throw new Error(`${place.file} ends before byte ${place.offset + place.bytes}`)
      read += n
    }
    return out
  } finally {
    closeSync(fd)
  }
}

/**
 * Every whole frame of a journal file, in order: a frame cut short (the process died while
 * appending it) or not starting with MAGIC ends the file.
 */
export function* journalFrames(file: string): Generator<{ place: JournalPlace; events: number }> {
  const size = statSync(file).size
  const fd = openSync(file, 'r')
  try {
    const header = Buffer.alloc(FRAME_HEADER_BYTES)
    let at = 0
    while (at + FRAME_HEADER_BYTES <= size) {
      if (readSync(fd, header, 0, FRAME_HEADER_BYTES, at) !== FRAME_HEADER_BYTES || header.readUInt32LE(0) !== MAGIC) return
      const bytes = header.readUInt32LE(4)
      if (at + FRAME_HEADER_BYTES + bytes > size) return
      yield { place: { file, offset: at + FRAME_HEADER_BYTES, bytes }, events: header.readUInt32LE(8) }
      at += FRAME_HEADER_BYTES + bytes
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * The store worker's side: which journal files still hold records not yet handled. A file is deleted
 * once the request thread has moved on to a later one (or stopped) and every chunk of it has
 * been handled (stored, spilled, or counted as dropped).
 */
export class JournalCleaner {
  /** `isRecovered`: a file being read back (an earlier process's, or a failed worker's); only its recovery's finish() ends it. */
  readonly #files = new Map<string, { outstanding: number; isFinished: boolean; isRecovered: boolean }>()
  readonly #onError: (file: string, err: unknown) => void

  constructor(onError: (file: string, err: unknown) => void) {
    this.#onError = onError
  }

  /**
   * A chunk of `file` is being delivered; call the returned function once it is handled. With
   * `finishesEarlier` (a live chunk), the same process's earlier live files are finished: it
   * appends in order. Without it, the chunk is read back from a file being recovered, which may
   * be this very process's (a worker restarted after a failure): a live chunk never finishes it.
   */
  chunk(file: string, finishesEarlier: boolean): () => void {
    let entry = this.#files.get(file)
    if (entry === undefined) {
      const writer = file.slice(0, file.lastIndexOf('-')) // journal-<pid>-<boot id>
      if (finishesEarlier) {
        for (const [name, e] of this.#files) if (name !== file && !e.isFinished && !e.isRecovered && name.startsWith(`${writer}-`)) this.finish(name)
      }
      entry = { outstanding: 0, isFinished: false, isRecovered: !finishesEarlier }
      this.#files.set(file, entry)
    }
    entry.outstanding++
    const counted = entry
    return () => {
      counted.outstanding--
      this.#sweep(file)
    }
  }

  /** Nothing more will be appended to `file`. */
  finish(file: string): void {
    const entry = this.#files.get(file)
    if (entry === undefined) return this.#remove(file)
    entry.isFinished = true
    this.#sweep(file)
  }

  finishAll(): void {
    for (const file of [...this.#files.keys()]) this.finish(file)
  }

  #sweep(file: string): void {
    const entry = this.#files.get(file)
    if (entry === undefined || !entry.isFinished || entry.outstanding > 0) return
    this.#files.delete(file)
    this.#remove(file)
  }

  #remove(file: string): void {
    try {
      unlinkSync(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#onError(file, err)
    }
  }
}
