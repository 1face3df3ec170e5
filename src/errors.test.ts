import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { Errors, gatewayError, gatewayErrorWith, isGatewayError, toErrorResponse } from './errors.js'

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
const documented = new Map(
  [...doc.matchAll(/^\| ([A-Z][A-Z0-9_]+) \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]),
)

describe('error catalogue', () => {
  it('documents every code with its status in docs/errors.md, and nothing else', () => {
    const catalogue = new Map(Object.entries(Errors).map(([code, spec]) => [code, spec.status]))
    expect(documented).toEqual(catalogue)
  })

  it.each([
    { code: 'MODEL_NOT_FOUND', args: ['fraud', ['credit-risk', 'iris']], status: 404, message: "model 'fraud' is not served here; models: credit-risk, iris" },
    { code: 'VERSION_NOT_FOUND', args: ['iris', 'v9', []], status: 404, message: "model 'iris' has no version 'v9'; versions: (none)" },
    { code: 'BODY_TOO_LARGE', args: [1024], status: 413, message: 'request body is larger than the limit of 1024 bytes; send fewer rows per request or raise --max-body-bytes' },
    { code: 'FEATURE_COUNT_MISMATCH', args: [1, 2, ['sepal_length', 'sepal_width', 'petal_length']], status: 400, message: 'instances[1] has 2 values; a row sent as an array has one for each of the 3 features, in this order: sepal_length, sepal_width, petal_length' },
    { code: 'FEATURE_MISTYPED', args: [3, 'age', 'an integer', 'the string "x"'], status: 400, message: 'instances[3].age must be an integer, got the string "x"' },
    { code: 'TENSOR_SHAPE_MISMATCH', args: ['features', '[-1, 23]', '[1, 22]'], status: 400, message: "input 'features' must have shape [-1, 23] (-1 is any size), got [1, 22]" },
  ] as const)('$code is $status with a message naming the thing', ({ code, args, status, message }) => {
    const err = (gatewayError as (c: string, ...a: unknown[]) => ReturnType<typeof gatewayError>)(code, ...args)
    expect(err.code).toBe(code)
    expect(err.status).toBe(status)
    expect(err.message).toBe(message)
    expect(toErrorResponse(err)).toEqual({ status, body: { error: message, code } })
  })

  it('puts details next to error and code, and keeps the cause', () => {
    const cause = new Error('onnxruntime said no')
    const err = gatewayErrorWith('FEATURE_MISSING', { details: { expected: { features: ['age'] } }, cause }, 0, 'age')
    expect(err.cause).toBe(cause)
    expect(toErrorResponse(err).body).toEqual({ error: "instances[0] lacks feature 'age'; every row needs all features of the signature", code: 'FEATURE_MISSING', expected: { features: ['age'] } })
  })

  it('maps unknown errors to 500 INTERNAL without leaking their message', () => {
    const res = toErrorResponse(new TypeError('secret internals'))
    expect(res.status).toBe(500)
    expect(res.body).toEqual({ error: 'internal error; it is logged', code: 'INTERNAL' })
  })

  it('recognises catalogue errors by code, not by class', () => {
    expect(isGatewayError({ code: 'MODEL_NOT_FOUND', status: 404, message: 'x' })).toBe(true)
    expect(isGatewayError({ code: 'ENOENT', status: 404 })).toBe(false)
    expect(isGatewayError(new Error('plain'))).toBe(false)
  })
})
