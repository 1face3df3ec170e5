/**
 * Inference ids: the caller's own when given, else a UUIDv7 (RFC 9562), which sorts by
 * time so that records and exports come out in the order they were made.
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto'

const POOL_BYTES = 4096 // random bytes drawn at once; 8 are used per id
const pool = Buffer.alloc(POOL_BYTES)
let poolOffset = POOL_BYTES
let lastMs = 0
let sequence = 0 // 12-bit counter in rand_a, so ids made in one millisecond still sort in order

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

let msPrefix = timePrefix(lastMs) // the id's first 14 characters, unix_ts_ms: written once a millisecond, not once an id

export function newInferenceId(nowMs: number = Date.now()): string {
  if (nowMs > lastMs) {
    lastMs = nowMs
    sequence = 0
    msPrefix = timePrefix(lastMs)
  } else if (++sequence > 0xfff) {
    lastMs++ // more than 4096 ids in one millisecond: borrow the next one, keeping order
    sequence = 0
    msPrefix = timePrefix(lastMs)
  }
  if (poolOffset + 8 > POOL_BYTES) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const r = poolOffset
  poolOffset += 8
  return msPrefix + HEX[0x70 | (sequence >>> 8)] + HEX[sequence & 0xff] + '-' +
    HEX[0x80 | (pool[r] & 0x3f)] + HEX[pool[r + 1]] + '-' +
    HEX[pool[r + 2]] + HEX[pool[r + 3]] + HEX[pool[r + 4]] + HEX[pool[r + 5]] + HEX[pool[r + 6]] + HEX[pool[r + 7]]
}

/** `xxxxxxxx-xxxx-`: 48 bits of milliseconds, as the first two groups of a UUIDv7. */
function timePrefix(ms: number): string {
  const hi = Math.floor(ms / 0x1_0000_0000)
  const lo = ms >>> 0
  return HEX[(hi >>> 8) & 0xff] + HEX[hi & 0xff] + HEX[lo >>> 24] + HEX[(lo >>> 16) & 0xff] + '-' + HEX[(lo >>> 8) & 0xff] + HEX[lo & 0xff] + '-'
}

const MAX_ID_LENGTH = 128 // characters

/** A caller's id is a non-empty string (or an integer) of printable ASCII, at most 128 characters. */
export function isValidInferenceId(id: unknown): id is string | number {
  if (typeof id === 'number') return Number.isSafeInteger(id)
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && /^[\x21-\x7e]+$/.test(id)
}

/**
 * The record id of a process's seq-th record, as a UUIDv7: the event's server time in
 * milliseconds, then 26 bits of `seq`, then the process's 48-bit boot id (12 hex digits).
 * Two records of one process share an id only if they share the millisecond and their seq
 * numbers differ by a multiple of 2^26 (67 million records in one millisecond); two processes
 * only if their random boot ids collide. The same event decoded twice (replayed from the
 * journal) gives the same ids, so the store keeps its records once.
 */
export function recordIdOf(serverTsMs: number, seq: number, bootIdHex: string): string {
  const s = seq & 0x3ff_ffff
  return (
    timePrefix(Math.max(0, Math.floor(serverTsMs))) +
    HEX[0x70 | (s >>> 22)] + HEX[(s >>> 14) & 0xff] + '-' +
    HEX[0x80 | ((s >>> 8) & 0x3f)] + HEX[s & 0xff] + '-' +
    bootIdHex
  )
}

/** A process's boot id for recordIdOf: 48 random bits as 12 hex digits. */
export function newBootId(): string {
  return randomBytes(6).toString('hex')
}

/**
 * The record id of an inference sent in (role `external`): made from what identifies it, the
 * model, the version and the caller's inference id, so that sending it again finds the same
 * record and stores nothing. A UUIDv8 (RFC 9562, custom) of the first 122 bits of their SHA-256.
 */
export function sentInRecordId(model: string, version: string, inferenceId: string): string {
  const h = createHash('sha256').update(`${model}\u0000${version}\u0000${inferenceId}`).digest()
  h[6] = 0x80 | (h[6] & 0x0f)
  h[8] = 0x80 | (h[8] & 0x3f)
  const hex = h.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}
