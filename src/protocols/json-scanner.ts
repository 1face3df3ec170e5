/**
 * Reading tokens from the bytes of a JSON text for the request thread's fast paths
 * (plain-bodies.ts): matching the ones the caller expects and reading numbers and ASCII strings
 * without escapes, building nothing on the way and never decoding the text. Each function takes
 * the index to read at and returns the index after what it read, or -1 when something else is
 * there; the caller then hands the text to JSON.parse, which says what is wrong. Functions of
 * positions rather than a cursor object: these run for every byte of most requests.
 */

const SPACE = 0x20 // JSON's whitespace is this and three control characters below it; a byte above is not whitespace
const QUOTE = 0x22 // "
const BACKSLASH = 0x5c
const COLON = 0x3a
const MINUS = 0x2d
const PLUS = 0x2b
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39
const LOWER_E = 0x65
const UPPER_E = 0x45

/**
 * A number of at most this many digits and a power of ten within ±22 is read as digits × 10^e
 * (or digits / 10^-e): the digits' integer is below 2^53 and 10^0..10^22 are exact doubles,
 * and one multiplication or division of exact doubles is correctly rounded, which is the value
 * JSON.parse gives (Clinger's fast path). Longer numbers are read approximately (below); past
 * those (1e400, 20 digits) the body is left to JSON.parse. Reading a long one through
 * Number(text) instead cost 325 ns a number, twice JSON.parse's own, on a 12,288-number image of
 * 17-digit floats (4.0 against 2.0 ms).
 */
const EXACT_DIGITS = 15
const EXACT_POWERS = Array.from({ length: 23 }, (_, e) => 10 ** e)
/**
 * Up to this many digits, and powers of ten within ±44 (two steps of at most 10^22), a number
 * is read the same way but approximately: the digits past 2^53 and the powers round, at most
 * ten times, so the value is within APPROXIMATION of the exact one (`scanned.isExact` false).
 * A float's shortest text has up to 17 digits (what numpy's tolist() and a Float32Array's
 * values print): an FP32 tensor of them (plain-bodies.ts) takes the approximation where
 * float32 rounding cannot tell it from the exact value.
 */
const APPROXIMATE_DIGITS = 19
const APPROXIMATE_EXPONENT = 44
/** A bound on an approximate value's relative error: a hundred times what ten roundings make. */
export const APPROXIMATION = 1e-13

/** What the last readNumber, readString or expectKeyOf read: the number, the string's content as start..end, where the key ended. */
export const scanned = { number: 0, isExact: true, start: 0, end: 0, keyEnd: -1 }

/** The index of the first byte at or after `i` that is not JSON whitespace (b.length at the end). */
export function skipSpace(b: Buffer, i: number): number {
  while (i < b.length) {
    const c = b[i]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i
    i++
  }
  return i
}

/** After whitespace, the byte `code`: the index after it, or -1. */
export function expect(b: Buffer, i: number, code: number): number {
  if (b[i] <= SPACE) i = skipSpace(b, i)
  return b[i] === code ? i + 1 : -1
}

/**
 * After whitespace, `"name"` and its colon: the index after the colon, or -1. `name` must be
 * printable ASCII without '"' or '\' (the bytes are compared with its characters).
 */
export function expectKey(b: Buffer, i: number, name: string): number {
  if (b[i] <= SPACE) i = skipSpace(b, i)
  const n = name.length
  if (b[i] !== QUOTE || b[i + n + 1] !== QUOTE) return -1
  for (let j = 0; j < n; j++) if (b[i + 1 + j] !== name.charCodeAt(j)) return -1
  i += n + 2
  if (b[i] <= SPACE) i = skipSpace(b, i)
  return b[i] === COLON ? i + 1 : -1
}

/** After whitespace, one of `names` as a key (as expectKey): which, as its index, or -1; `scanned.keyEnd` is then the index after the colon. */
export function expectKeyOf(b: Buffer, i: number, names: readonly string[]): number {
  for (let k = 0; k < names.length; k++) {
    const end = expectKey(b, i, names[k])
    if (end !== -1) {
      scanned.keyEnd = end
      return k
    }
  }
  return -1
}

/** After whitespace, a string of printable ASCII without escapes: the index after it, or -1; its content is scanned.start..scanned.end. */
export function readString(b: Buffer, i: number): number {
  if (b[i] <= SPACE) i = skipSpace(b, i)
  if (b[i] !== QUOTE) return -1
  const start = i + 1
  for (let j = start; j < b.length; j++) {
    const c = b[j]
    if (c === QUOTE) {
      scanned.start = start
      scanned.end = j
      return j + 1
    }
    if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1
  }
  return -1
}

/** The bytes start..end are `text`, an ASCII string. */
export function isSpan(b: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false
  for (let j = 0; j < text.length; j++) if (b[start + j] !== text.charCodeAt(j)) return false
  return true
}

/**
 * After whitespace, a number as JSON's grammar has it (no leading zeros, no bare '.', no '+')
 * that the fast path reads exactly (EXACT_DIGITS) or nearly (APPROXIMATE_DIGITS): the index
 * after it, or -1; its value in `scanned.number`, the one JSON.parse gives when
 * `scanned.isExact`, else within APPROXIMATION of it.
 */
export function readNumber(b: Buffer, i: number): number {
  if (b[i] <= SPACE) i = skipSpace(b, i)
  let c = b[i]
  const isNegative = c === MINUS
  if (isNegative) c = b[++i]
  let digits = 0 // every digit, the fraction's included, as one integer
  let count = 0 // its significant digits
  if (c === ZERO) c = b[++i]
  else if (c > ZERO && c <= NINE) {
    do {
      digits = digits * 10 + (c - ZERO)
      count++
      c = b[++i]
    } while (c >= ZERO && c <= NINE)
  } else return -1
  let exponent = 0
  if (c === DOT) {
    c = b[++i]
    if (!(c >= ZERO && c <= NINE)) return -1
    do {
      digits = digits * 10 + (c - ZERO)
      if (digits !== 0) count++ // a fraction's leading zeros (0.003…) are not significant digits
      exponent--
      c = b[++i]
    } while (c >= ZERO && c <= NINE)
  }
  if (c === LOWER_E || c === UPPER_E) {
    c = b[++i]
    const isNegativeExponent = c === MINUS
    if (c === PLUS || c === MINUS) c = b[++i]
    if (!(c >= ZERO && c <= NINE)) return -1
    let e = 0
    do {
      e = e * 10 + (c - ZERO)
      c = b[++i]
    } while (c >= ZERO && c <= NINE)
    exponent += isNegativeExponent ? -e : e
  }
  scanned.isExact = count <= EXACT_DIGITS && exponent >= -22 && exponent <= 22
  if (!scanned.isExact) {
    if (count > APPROXIMATE_DIGITS || exponent < -APPROXIMATE_EXPONENT || exponent > APPROXIMATE_EXPONENT) return -1
    if (exponent > 22) {
      digits *= EXACT_POWERS[22]
      exponent -= 22
    } else if (exponent < -22) {
      digits /= EXACT_POWERS[22]
      exponent += 22
    }
  }
  const value = exponent >= 0 ? digits * EXACT_POWERS[exponent] : digits / EXACT_POWERS[-exponent]
  scanned.number = isNegative ? -value : value
  return i
}
