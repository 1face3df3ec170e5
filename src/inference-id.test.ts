import { describe, expect, it } from 'vitest'
import { newInferenceId } from './inference-id.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('newInferenceId', () => {
  it('writes UUIDv7s whose first 48 bits are the millisecond, and which sort in the order they were made', () => {
    const base = Date.UTC(2026, 11, 1, 12)
    const ids: string[] = []
    for (let ms = base; ms < base + 5; ms++) for (let k = 0; k < 300; k++) ids.push(newInferenceId(ms))
    for (const id of ids) expect(id).toMatch(UUID_V7)
    expect(parseInt(ids[0].replace('-', '').slice(0, 12), 16)).toBe(base)
    expect(parseInt(ids.at(-1)!.replace('-', '').slice(0, 12), 16)).toBe(base + 4)
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('borrows the next millisecond after 4,096 ids in one, and keeps the order', () => {
    const ms = Date.UTC(2026, 11, 1, 13)
    const ids = Array.from({ length: 5_000 }, () => newInferenceId(ms))
    expect([...ids].sort()).toEqual(ids)
    expect(parseInt(ids.at(-1)!.replace('-', '').slice(0, 12), 16)).toBe(ms + 1)
    expect(newInferenceId(ms + 1) > ids.at(-1)!).toBe(true)
  })
})
