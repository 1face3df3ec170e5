import { describe, expect, it } from 'vitest'
import { decodeEvent, encodeEvent, EVENT_SEPARATOR } from './event-codec.js'
import type { RecordContext } from './record-context.js'

const ctx: RecordContext = {
  kind: 'predict', ids: ['a', 'b:1'], body: '{"instances":[\n {"x": "tab\\tand \\u0001"}]}', callerTs: 123, attributes: '{"region":"eu"}',
  route: 'm', reason: 'sticky', stickyHash: '00ff00ff', revision: 2,
}

describe('event lines', () => {
  it('carry every field through, nulls included', () => {
    const line = encodeEvent(ctx, 'm', 'v2', 'shadow', 1.25, '{"predictions":[]}', 200, null)
    const e = decodeEvent(line)
    expect(e).toMatchObject({ ...ctx, model: 'm', version: 'v2', role: 'shadow', latencyMs: 1.25, answer: '{"predictions":[]}', status: 200, errorCode: null })
    expect(Math.abs(e.serverTs - Date.now())).toBeLessThan(1_000)
    const bare = decodeEvent(encodeEvent({ ...ctx, callerTs: null, attributes: null, route: null, reason: null, stickyHash: null, revision: null }, 'm', 'v1', 'direct', 0.5, null, 500, 'INFERENCE_FAILED'))
    expect(bare).toMatchObject({ callerTs: null, attributes: null, route: null, reason: null, stickyHash: null, revision: null, answer: null, errorCode: 'INFERENCE_FAILED' })
  })

  it('never meet a separator inside a field: JSON text has no raw control characters', () => {
    expect(() => JSON.parse('{"x":"\u0001"}')).toThrow()
    const batch = [encodeEvent(ctx, 'm', 'v1', 'primary', 1, null, 200, null), encodeEvent(ctx, 'm', 'v2', 'shadow', 1, null, 200, null)].join(EVENT_SEPARATOR)
    expect(batch.split(EVENT_SEPARATOR).map((l) => decodeEvent(l).version)).toEqual(['v1', 'v2'])
  })
})
