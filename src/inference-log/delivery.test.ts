import { describe, expect, it } from 'vitest'
import { isTransient } from './delivery.js'

describe('isTransient', () => {
  it('retries outages and gives up only on rows the store refuses for their content', () => {
    for (const code of ['ECONNREFUSED', '57P01', '08006', '25006', '40P01', '53300', 'SQLITE_BUSY', 'SQLITE_READONLY', 'SQLITE_FULL']) expect(isTransient({ code }), code).toBe(true)
    expect(isTransient(new Error('Query read timeout'))).toBe(true)
    for (const code of ['22P02', '23505', '22021', 'SQLITE_CONSTRAINT_NOTNULL', 'SQLITE_TOOBIG', 'SQLITE_MISMATCH']) expect(isTransient({ code }), code).toBe(false)
  })
})
