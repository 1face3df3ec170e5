import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { APPROXIMATION, expectKey, readNumber, readString, scanned } from './json-scanner.js'

/** What readNumber makes of `text`: its value when it read all of it exactly, else null. */
function read(text: string): number | null {
  const b = Buffer.from(text)
  const end = readNumber(b, 0)
  return end === b.length && scanned.isExact ? scanned.number : null
}

/** readNumber's value for `text` when it read all of it approximately (16 to 19 significant digits), else null. */
function approximate(text: string): number | null {
  const b = Buffer.from(text)
  const end = readNumber(b, 0)
  return end === b.length && !scanned.isExact ? scanned.number : null
}

/** Within APPROXIMATION of JSON.parse's value, relatively. */
const isClose = (value: number, text: string): boolean => Math.abs(value - parsed(text)!) <= APPROXIMATION * Math.abs(parsed(text)!)

/** JSON.parse's value for a lone number, or null when JSON does not have it as a number. */
function parsed(text: string): number | null {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'number' ? v : null
  } catch {
    return null
  }
}

/** At most EXACT_DIGITS (15) significant digits and a power of ten within ±22 once the fraction is counted: the fast path's numbers. */
function isShort(text: string): boolean {
  const m = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (m === null) return false
  const fraction = m[2] ?? ''
  const significant = (m[1] === '0' ? fraction.replace(/^0+/, '') : m[1] + fraction).length
  const exponent = Number(m[3] ?? 0) - fraction.length
  return significant <= 15 && exponent >= -22 && exponent <= 22
}

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max })

/** Numerals of JSON's grammar, of every length and exponent (read, or left to JSON.parse). */
const numeral = fc.tuple(fc.boolean(), fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 20)).map(([a, b]) => a + b)),
  fc.option(digits(1, 20)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4))))
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`)

describe('readNumber', () => {
  it('gives every JSON numeral it reads the value JSON.parse gives it, -0 included, and reads every short one', () => {
    fc.assert(fc.property(numeral, (text) => {
      const value = read(text)
      if (value !== null) expect(Object.is(value, parsed(text))).toBe(true)
      else expect(isShort(text) && parsed(text) !== null, `${text} is short: the fast path reads it`).toBe(false)
      const near = approximate(text)
      if (near !== null) expect(isClose(near, text), `${text} read as ${near}`).toBe(true)
    }), { numRuns: 20_000 })
  })

  it('reads doubles written out by JavaScript itself exactly (the shortest text that round-trips), or leaves them', () => {
    let readCount = 0
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
      const text = JSON.stringify(v) // -0 is written "0"
      const value = read(text)
      if (value !== null) readCount++
      expect(value === null || Object.is(value, Object.is(v, -0) ? 0 : v)).toBe(true)
      const near = approximate(text)
      expect(near === null || isClose(near, text)).toBe(true)
    }), { numRuns: 20_000 })
    expect(readCount).toBeGreaterThan(0)
  })

  it.each(['01', '.5', '+1', '1.', '1e', '1e+', '-', '--1', '0x10', 'Infinity', 'NaN', '1.e5', '-.5', ''])('does not read %j as a whole number', (text) => {
    expect(parsed(text)).toBeNull() // the cases are what JSON refuses
    expect(read(text)).toBeNull()
  })

  it('leaves long and out-of-range numbers to JSON.parse', () => {
    for (const text of ['1e400', '-1e400', '1e-400', '1' + '0'.repeat(400), '0.30000000000000004', '0.9207354974746704', '1e23', '1e99999999999999999999']) {
      expect(read(text), text).toBeNull()
    }
    expect(read('0.123456789012345')).toBe(0.123456789012345) // 15 digits: read
    expect(read('-12345678901234.5e-21')).toBe(-12345678901234.5e-21)
    expect(read('0.000000000000000000001')).toBe(1e-21) // a fraction's leading zeros are not significant digits
    // 16 to 19 digits: read approximately (plain-bodies.ts keeps such a value only for FP32, where rounding cannot tell)
    for (const text of ['0.30000000000000004', '0.9207354974746704', '-1234567890123456789']) expect(isClose(approximate(text)!, text), text).toBe(true)
    expect(approximate('12345678901234567890')).toBeNull() // 20 digits
    expect(isClose(approximate('9.840833854468656e-28')!, '9.840833854468656e-28')).toBe(true) // a power past 10^22: two steps
    expect(approximate('1e45')).toBeNull()
  })

  it('skips JSON whitespace before a number, and only that', () => {
    expect(read(' \t\r\n42')).toBe(42)
    expect(read('\u000b42')).toBeNull()
  })
})

describe('expectKey and readString', () => {
  it('matches a key with whitespace around its colon, and not a prefix or an escaped spelling', () => {
    expect(expectKey(Buffer.from('"age" : 1'), 0, 'age')).toBe(7)
    expect(expectKey(Buffer.from('"ages":1'), 0, 'age')).toBe(-1)
    expect(expectKey(Buffer.from('"ag\\u0065":1'), 0, 'age')).toBe(-1)
    expect(expectKey(Buffer.from('"age"'), 0, 'age')).toBe(-1)
  })

  it('reads printable ASCII strings only, leaving escapes and other characters to JSON.parse', () => {
    const b = Buffer.from(' "features"')
    expect(readString(b, 0)).toBe(b.length)
    expect(b.toString('latin1', scanned.start, scanned.end)).toBe('features')
    expect(readString(Buffer.from('"a\\"b"'), 0)).toBe(-1)
    expect(readString(Buffer.from('"é"'), 0)).toBe(-1)
    expect(readString(Buffer.from('"open'), 0)).toBe(-1)
  })
})
