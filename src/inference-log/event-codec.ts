/**
 * How events cross from the request thread to the store worker: packed one after another into a
 * chunk of memory outside the JavaScript heap, which is appended to the journal and handed
 * to the worker whole (transferred, not copied).
 *
 * Writing an event is a few DataView stores and byte copies into memory the garbage
 * collector never scans or moves, so the strings a request made die young. Events as strings,
 * joined and posted every 50 ms, cost the request thread about 3 µs a request, most of it the
 * collector promoting strings kept alive for those 50 ms (`node --cpu-prof` under `npm run bench`).
 *
 *   one event                                       (little-endian)
 *   u32 bytes   u8 kind  u8 role  u16 status  u32 firstSeq
 *   f64 serverTs  f64 callerTs  f64 latencyMs  f64 revision  f64 stickyHash      NaN is null
 *   9 strings, each u32 length (NULL_STRING: null) then its bytes:
 *     ids (joined by U+0002), model, version, route, reason, errorCode   ASCII
 *     attributes, body, answer                                           UTF-8
 *
 * `firstSeq` numbers the event's records (one a row): with the process's boot id it makes
 * their record ids, so that an event replayed from the journal stores the same records again
 * (and the store keeps them once).
 */
import type { InferenceRole } from '../store/records.js'
import type { InferenceEvent } from './event.js'
import { BINARY_RECORD_KINDS, RECORD_KINDS } from './record-context.js'
import type { RecordContext, RecordKind } from './record-context.js'

const ID_SEPARATOR = '\u0002' // ids are printable ASCII: never this
const NULL_STRING = 0xffff_ffff
const FIXED_BYTES = 4 + 4 + 4 + 5 * 8
const STRINGS = 9
const KIND_CODE = new Map<RecordKind, number>(RECORD_KINDS.map((k, i) => [k, i]))
const ROLES: readonly InferenceRole[] = ['primary', 'shadow', 'challenger', 'direct', 'external']
const ROLE_CODE: Record<InferenceRole, number> = { primary: 0, shadow: 1, challenger: 2, direct: 3, external: 4 }

/** A sealed chunk: `bytes` bytes of `events` events at the start of `buffer`. */
export interface EventChunk {
  readonly buffer: ArrayBuffer
  readonly bytes: number
  readonly events: number
}

const SPARE_CHUNKS = 4 // chunks the worker handed back, kept for reuse

/** The request thread's side: events appended to the current chunk until it is taken. */
export class EventChunkWriter {
  readonly #chunkBytes: number
  /**
   * Chunks the worker is done with, handed back: reusing one costs nothing, while a fresh
   * 1 MiB chunk costs 256 page faults when first written (about 0.2 µs an event here).
   */
  readonly #spare: ArrayBuffer[] = []
  #buffer: Buffer
  #view: DataView
  #offset = 0
  #events = 0

  constructor(chunkBytes: number) {
    this.#chunkBytes = chunkBytes
    this.#buffer = Buffer.allocUnsafeSlow(chunkBytes)
    this.#view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.byteLength)
  }

  /** A chunk the worker no longer needs, for reuse. */
  giveBack(chunk: ArrayBuffer): void {
    if (chunk.byteLength === this.#chunkBytes && this.#spare.length < SPARE_CHUNKS) this.#spare.push(chunk)
  }

  get events(): number {
    return this.#events
  }

  /**
   * Append one event. Returns the chunk it filled, when the event did not fit: the caller
   * hands that one on; the event itself is in the fresh chunk.
   */
  write(
    ctx: RecordContext, firstSeq: number, model: string, version: string, role: InferenceRole, latencyMs: number,
    answer: string | Buffer | null, status: number, errorCode: string | null,
  ): EventChunk | null {
    const ids = ctx.ids.length === 1 ? String(ctx.ids[0]) : ctx.ids.join(ID_SEPARATOR)
    const most = FIXED_BYTES + 4 * STRINGS + ids.length + model.length + version.length + (ctx.route?.length ?? 0) + (ctx.reason?.length ?? 0) +
      (errorCode?.length ?? 0) + 3 * ((ctx.attributes?.length ?? 0) + (answer?.length ?? 0)) + ctx.body.length // UTF-8: at most 3 bytes a UTF-16 unit (a Buffer's length is its bytes)
    let full: EventChunk | null = null
    if (this.#offset + most > this.#buffer.length) {
      full = this.take()
      if (most > this.#buffer.length) this.#replace(most) // one event larger than a chunk gets a chunk of its own
    }
    const view = this.#view
    const start = this.#offset
    view.setUint8(start + 4, KIND_CODE.get(ctx.kind)!)
    view.setUint8(start + 5, ROLE_CODE[role])
    view.setUint16(start + 6, status, true)
    view.setUint32(start + 8, firstSeq >>> 0, true)
    view.setFloat64(start + 12, Date.now(), true)
    view.setFloat64(start + 20, ctx.callerTs ?? NaN, true)
    view.setFloat64(start + 28, latencyMs, true)
    view.setFloat64(start + 36, ctx.revision ?? NaN, true)
    view.setFloat64(start + 44, ctx.stickyHash ?? NaN, true)
    this.#offset = start + FIXED_BYTES
    this.#ascii(ids)
    this.#ascii(model)
    this.#ascii(version)
    this.#ascii(ctx.route)
    this.#ascii(ctx.reason)
    this.#ascii(errorCode)
    this.#utf8(ctx.attributes)
    this.#bytes(ctx.body)
    if (typeof answer === 'object' && answer !== null) this.#bytes(answer)
    else this.#utf8(answer)
    view.setUint32(start, this.#offset - start, true)
    this.#events++
    return full
  }

  /** The chunk written so far (null when empty); writing goes on in a fresh one. */
  take(): EventChunk | null {
    if (this.#events === 0) return null
    const chunk: EventChunk = { buffer: this.#buffer.buffer as ArrayBuffer, bytes: this.#offset, events: this.#events }
    this.#replace(this.#chunkBytes)
    return chunk
  }

  #replace(bytes: number): void {
    const spare = bytes <= this.#chunkBytes ? this.#spare.pop() : undefined
    this.#buffer = spare !== undefined ? Buffer.from(spare) : Buffer.allocUnsafeSlow(Math.max(bytes, this.#chunkBytes))
    this.#view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.byteLength)
    this.#offset = 0
    this.#events = 0
  }

  /** Names, codes and ids: ASCII, copied by hand (cheaper than a native call for a few bytes). */
  #ascii(s: string | null): void {
    if (s === null) return this.#null()
    const u8 = this.#buffer
    const at = this.#offset + 4
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) return this.#utf8(s) // not expected; correct anyway
      u8[at + i] = c
    }
    this.#view.setUint32(this.#offset, s.length, true)
    this.#offset = at + s.length
  }

  #utf8(s: string | null): void {
    if (s === null) return this.#null()
    const written = this.#buffer.write(s, this.#offset + 4, 'utf8')
    this.#view.setUint32(this.#offset, written, true)
    this.#offset += 4 + written
  }

  /** Bytes as they are: a request body as it came (UTF-8, or binary tensor data), a binary answer. */
  #bytes(b: Buffer): void {
    b.copy(this.#buffer, this.#offset + 4)
    this.#view.setUint32(this.#offset, b.length, true)
    this.#offset += 4 + b.length
  }

  #null(): void {
    this.#view.setUint32(this.#offset, NULL_STRING, true)
    this.#offset += 4
  }
}

/**
 * The events of a chunk, in order, up to where its bytes stop making sense (never, for a
 * chunk the gateway wrote): `corrupt` says where, and the rest is not decoded.
 */
export function decodeEvents(bytes: Uint8Array): { events: InferenceEvent[]; corrupt: EventChunkCorrupt | null } {
  const events: InferenceEvent[] = []
  try {
    decodeInto(bytes, events)
    return { events, corrupt: null }
  } catch (err) {
    if (err instanceof EventChunkCorrupt) return { events, corrupt: err }
    throw err
  }
}

function decodeInto(bytes: Uint8Array, events: InferenceEvent[]): void {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 0
  while (offset < bytes.byteLength) {
    if (offset + FIXED_BYTES > bytes.byteLength) throw new EventChunkCorrupt(offset, 'an event header runs past the chunk')
    const size = view.getUint32(offset, true)
    const end = offset + size
    if (size < FIXED_BYTES + 4 * STRINGS || end > bytes.byteLength) throw new EventChunkCorrupt(offset, `an event claims ${size} bytes`)
    const kind = RECORD_KINDS[view.getUint8(offset + 4)] as RecordKind | undefined
    const role = ROLES[view.getUint8(offset + 5)]
    if (kind === undefined || role === undefined) throw new EventChunkCorrupt(offset, 'unknown kind or role')
    let at = offset + FIXED_BYTES
    const text = (encoding: 'latin1' | 'utf8'): string | null => {
      const length = view.getUint32(at, true)
      at += 4
      if (length === NULL_STRING) return null
      if (at + length > end) throw new EventChunkCorrupt(offset, 'a string runs past its event')
      const s = buf.toString(encoding, at, at + length)
      at += length
      return s
    }
    const orNull = (v: number): number | null => (Number.isNaN(v) ? null : v)
    const ids = text('latin1')
    const model = text('latin1')
    const version = text('latin1')
    const route = text('latin1')
    const reason = text('latin1')
    const errorCode = text('latin1')
    const attributes = text('utf8')
    const encoding = BINARY_RECORD_KINDS.has(kind) ? 'latin1' : 'utf8' // binary tensor data: a byte a character
    const body = text(encoding)
    const answer = text(encoding)
    if (ids === null || model === null || version === null) throw new EventChunkCorrupt(offset, 'an event without ids, model or version')
    const stickyHash = orNull(view.getFloat64(offset + 44, true))
    events.push({
      kind, role, ids: ids.split(ID_SEPARATOR), model, version, route, reason, errorCode, attributes, body, answer,
      status: view.getUint16(offset + 6, true),
      firstSeq: view.getUint32(offset + 8, true),
      serverTs: view.getFloat64(offset + 12, true),
      callerTs: orNull(view.getFloat64(offset + 20, true)),
      latencyMs: view.getFloat64(offset + 28, true),
      revision: orNull(view.getFloat64(offset + 36, true)),
      stickyHash: stickyHash === null ? null : stickyHash.toString(16).padStart(8, '0'),
    })
    offset = end
  }
}

export class EventChunkCorrupt extends Error {
  readonly offset: number
  constructor(offset: number, what: string) {
    super(`inference event chunk unreadable at byte ${offset}: ${what}`)
    this.name = 'EventChunkCorrupt'
    this.offset = offset
  }
}
