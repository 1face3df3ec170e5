import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { expectKey, readNumber, readString, scanned } from './json-scanner.js'

/** What readNumber makes of `text`: its value when it read all of it, else null. */
function read(text: string): number | null {
  const b = Buffer.from(text)
  const end = readNumber(b, 0)
  return end === b.length ? scanned.number : null
}

/** JSON.parse's value for a lone number, or null when JSON does not have it as a number. */
function parsed(text: string): number | null {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'number' ? v : null
  } catch {
    return null
  }
}

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max })

/** Numerals of JSON's grammar, of every length and exponent (the fast path and Number() both). */
const numeral = fc.tuple(fc.boolean(), fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 20)).map(([a, b]) => a + b)),
  fc.option(digits(1, 20)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4))))
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`)

describe('readNumber', () => {
  it('gives every JSON numeral the value JSON.parse gives it, -0 included', () => {
    fc.assert(fc.property(numeral, (text) => {
      expect(Object.is(read(text), parsed(text))).toBe(true)
    }), { numRuns: 20_000 })
  })

  it('reads doubles written out by JavaScript itself exactly (the shortest text that round-trips)', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
      const text = JSON.stringify(v) // -0 is written "0"
      expect(Object.is(read(text), Object.is(v, -0) ? 0 : v)).toBe(true)
    }), { numRuns: 20_000 })
  })

  it.each(['01', '.5', '+1', '1.', '1e', '1e+', '-', '--1', '0x10', 'Infinity', 'NaN', '1.e5', '-.5', ''])('does not read %j as a whole number', (text) => {
    expect(parsed(text)).toBeNull() // the cases are what JSON refuses
    expect(read(text)).toBeNull()
  })

  it('leaves out-of-range numbers to Number(): 1e400 is Infinity and 1e-400 is 0, as in JSON.parse', () => {
    expect(read('1e400')).toBe(Infinity)
    expect(read('-1e400')).toBe(-Infinity)
    expect(read('1e-400')).toBe(0)
    expect(read('1' + '0'.repeat(400))).toBe(Infinity)
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
