import { describe, expect, it } from 'vitest'
import { itemOf } from './upload.js'

describe('a row of a file as an item sent in', () => {
  it('is taken as it is when it is an item already (JSON Lines)', () => {
    const item = { inference_id: 'a', inputs: { x: 1 }, outputs: { score: 0.5 }, version: 'v2' }
    expect(itemOf(item, false)).toBe(item)
  })

  it('splits a flat row into the item\'s fields, its outputs, attributes and inputs', () => {
    const row = { inference_id: 'a', timestamp: '2026-11-30T00:00:00Z', version: 'v2', age: 41, region_code: 'x7', label: 1, probability: 0.8, 'attributes.job': 'nightly' }
    expect(itemOf(row, false)).toEqual({
      inference_id: 'a', timestamp: '2026-11-30T00:00:00Z', version: 'v2',
      inputs: { age: 41, region_code: 'x7' }, outputs: { label: 1, probability: 0.8 }, attributes: { job: 'nightly' },
    })
  })

  it('reads numbers in CSV text, but keeps ids and versions as written', () => {
    const row = { inference_id: '007', version: '2026.11', age: '41', score: '.5', note: '4x4' }
    expect(itemOf(row, true)).toEqual({ inference_id: '007', version: '2026.11', inputs: { age: 41, note: '4x4' }, outputs: { score: 0.5 } })
  })
})
