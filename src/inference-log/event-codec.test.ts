import { describe, expect, it } from 'vitest'
import { decodeEvents, EventChunkWriter } from './event-codec.js'
import type { EventChunk } from './event-codec.js'
import { recordIdOf } from '../inference-id.js'
import type { RecordContext } from './record-context.js'

const BODY = '{"instances":[\n {"x": "tab\\tand \\u0001", "city": "Gent – Ghent ✓"}]}'
const ctx: RecordContext = {
  kind: 'predict', ids: ['a', 'b:1'], body: Buffer.from(BODY), callerTs: 123, attributes: '{"region":"eü"}',
  route: 'm', reason: 'sticky', stickyHash: 0x00ff00ff, revision: 2,
}
const bare: RecordContext = { ...ctx, ids: [7], callerTs: null, attributes: null, route: null, reason: null, stickyHash: null, revision: null }

const decode = (chunk: EventChunk | null) => decodeEvents(new Uint8Array(chunk!.buffer, 0, chunk!.bytes))

describe('event chunks', () => {
  it('carry every field through, nulls and non-ASCII text included', () => {
    const writer = new EventChunkWriter(4096)
    writer.write(ctx, 10, 'm', 'v2', 'shadow', 1.25, '{"predictions":[]}', 200, null)
    writer.write(bare, 12, 'm', 'v1', 'direct', 0.5, null, 500, 'INFERENCE_FAILED')
    const { events, corrupt } = decode(writer.take())
    expect(corrupt).toBeNull()
    expect(events[0]).toMatchObject({
      kind: 'predict', ids: ['a', 'b:1'], body: BODY, callerTs: 123, attributes: ctx.attributes, route: 'm', reason: 'sticky',
      stickyHash: '00ff00ff', revision: 2, model: 'm', version: 'v2', role: 'shadow', latencyMs: 1.25, answer: '{"predictions":[]}',
      status: 200, errorCode: null, firstSeq: 10,
    })
    expect(Math.abs(events[0].serverTs - Date.now())).toBeLessThan(1_000)
    expect(events[1]).toMatchObject({ ids: ['7'], callerTs: null, attributes: null, route: null, reason: null, stickyHash: null, revision: null, answer: null, status: 500, errorCode: 'INFERENCE_FAILED', firstSeq: 12 })
  })

  it('carry a body given as the bytes it came in as the same text', () => {
    const writer = new EventChunkWriter(4096)
    writer.write(ctx, 1, 'm', 'v1', 'primary', 1, null, 200, null)
    writer.write({ ...ctx, body: Buffer.from('x'.repeat(3_000)) }, 2, 'm', 'v1', 'primary', 1, null, 200, null)
    const { events, corrupt } = decode(writer.take())
    expect(corrupt).toBeNull()
    expect(events.map((e) => e.body)).toEqual([BODY, 'x'.repeat(3_000)])
  })

  it('hand back the full chunk when an event does not fit, and give an event larger than a chunk one of its own', () => {
    const writer = new EventChunkWriter(1024)
    const full: EventChunk[] = []
    for (let i = 0; i < 20; i++) {
      const chunk = writer.write({ ...ctx, ids: [`id-${i}`] }, i, 'm', 'v1', 'primary', 1, null, 200, null)
      if (chunk !== null) full.push(chunk)
    }
    const huge = writer.write({ ...ctx, ids: ['huge'], body: Buffer.from('x'.repeat(5_000)) }, 20, 'm', 'v1', 'primary', 1, null, 200, null)
    if (huge !== null) full.push(huge)
    full.push(writer.take()!)
    expect(writer.take()).toBeNull() // nothing left
    const ids = full.flatMap((c) => decode(c).events.map((e) => e.ids[0]))
    expect(ids).toEqual([...Array.from({ length: 20 }, (_, i) => `id-${i}`), 'huge'])
    expect(full.length).toBeGreaterThan(2)
  })

  it('decode up to where the bytes stop making sense, and say where', () => {
    const writer = new EventChunkWriter(4096)
    writer.write(ctx, 0, 'm', 'v1', 'primary', 1, null, 200, null)
    writer.write(ctx, 2, 'm', 'v1', 'primary', 1, null, 200, null)
    const chunk = writer.take()!
    const { events, corrupt } = decodeEvents(new Uint8Array(chunk.buffer, 0, chunk.bytes - 3)) // a torn last event
    expect(events).toHaveLength(1)
    expect(corrupt?.offset).toBeGreaterThan(0)
  })
})

describe('record ids', () => {
  it('are UUIDv7s made from the time, the number and the boot id: the same input, the same id', () => {
    const id = recordIdOf(Date.UTC(2026, 11, 1), 5, 'a1b2c3d4e5f6')
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-a1b2c3d4e5f6$/)
    expect(recordIdOf(Date.UTC(2026, 11, 1), 5, 'a1b2c3d4e5f6')).toBe(id)
    expect(parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(Date.UTC(2026, 11, 1))
  })

  it('differ for every number within a millisecond, sort by it, and differ between boots', () => {
    const ids = Array.from({ length: 70_000 }, (_, i) => recordIdOf(1_000, i * 977, 'a1b2c3d4e5f6'))
    expect(new Set(ids).size).toBe(ids.length)
    const inOrder = Array.from({ length: 5_000 }, (_, i) => recordIdOf(1_000, i, 'a1b2c3d4e5f6'))
    expect([...inOrder].sort()).toEqual(inOrder)
    expect(recordIdOf(1_000, 1, 'a1b2c3d4e5f6')).not.toBe(recordIdOf(1_000, 1, 'ffffffffffff'))
  })
})
