import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decodeEvents, EventChunkWriter } from './event-codec.js'
import type { EventChunk } from './event-codec.js'
import { Journal, JournalCleaner, journalFrames, orphanJournals, readJournalPlace } from './journal.js'
import type { JournalPlace } from './journal.js'
import type { RecordContext } from './record-context.js'

const BOOT = 'a1b2c3d4e5f6'
const ctx: RecordContext = { kind: 'predict', ids: ['x'], body: Buffer.from('{"instances":[{"a":1}]}'), callerTs: null, attributes: null, route: null, reason: null, stickyHash: null, revision: null }
let dir: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-journal-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** A chunk of `n` events whose ids are `${tag}-i`. */
function chunkOf(tag: string, n: number): EventChunk {
  const writer = new EventChunkWriter(64 * 1024)
  for (let i = 0; i < n; i++) writer.write({ ...ctx, ids: [`${tag}-${i}`] }, i, 'm', 'v1', 'direct', 1, null, 200, null)
  return writer.take()!
}

function append(journal: Journal, chunk: EventChunk): Promise<JournalPlace> {
  return new Promise((resolve, reject) => journal.append(chunk, (place, err) => (place === null ? reject(err) : resolve(place))))
}

const idsAt = (place: JournalPlace) => decodeEvents(readJournalPlace(place)).events.map((e) => e.ids[0])

describe('the journal', () => {
  it('appends chunks in order as whole frames, and reads each back from where it says it lies', async () => {
    const journal = new Journal(dir, BOOT)
    const a = await append(journal, chunkOf('a', 3))
    const b = await append(journal, chunkOf('b', 2))
    await journal.close()
    expect(a.file).toBe(b.file)
    expect(idsAt(a)).toEqual(['a-0', 'a-1', 'a-2'])
    expect(idsAt(b)).toEqual(['b-0', 'b-1'])
    expect([...journalFrames(a.file)].map((f) => [f.place, f.events])).toEqual([[a, 3], [b, 2]])
  })

  it('calls back in the order of the calls, barriers included', async () => {
    const journal = new Journal(dir, BOOT)
    const order: string[] = []
    journal.append(chunkOf('a', 1), () => order.push('a'))
    journal.barrier(() => order.push('barrier'))
    journal.append(chunkOf('b', 1), () => order.push('b'))
    await journal.close()
    expect(order).toEqual(['a', 'barrier', 'b'])
  })

  it('starts a new file past its size, and rotate() ends the current one and lists them all', async () => {
    const journal = new Journal(dir, BOOT, 100) // a file holds one chunk
    const a = await append(journal, chunkOf('a', 2))
    const b = await append(journal, chunkOf('b', 2))
    expect(a.file).not.toBe(b.file)
    await new Promise<void>((resolve) => journal.barrier(() => {
      expect(journal.rotate()).toEqual([a.file, b.file])
      resolve()
    }))
    const c = await append(journal, chunkOf('c', 1))
    expect([a.file, b.file]).not.toContain(c.file)
    await journal.close()
  })

  it('ends a file at a frame cut short by a crash, keeping the frames before it', async () => {
    const journal = new Journal(dir, BOOT)
    const a = await append(journal, chunkOf('a', 2))
    const b = await append(journal, chunkOf('b', 2))
    await journal.close()
    truncateSync(a.file, b.offset + b.bytes - 5)
    expect([...journalFrames(a.file)].map((f) => idsAt(f.place))).toEqual([['a-0', 'a-1']])
  })

  it('ends a file at bytes that are not a frame header', async () => {
    const journal = new Journal(dir, BOOT)
    const a = await append(journal, chunkOf('a', 2))
    await journal.close()
    appendFileSync(a.file, Buffer.alloc(64, 0x20))
    expect([...journalFrames(a.file)].map((f) => idsAt(f.place))).toEqual([['a-0', 'a-1']])
  })

  it('reports a file it cannot write to, and the chunk is not placed', async () => {
    writeFileSync(join(dir, 'blocker'), 'a file where the directory should be')
    const journal = new Journal(join(dir, 'blocker', 'spill'), BOOT)
    const outcome = await new Promise<{ place: JournalPlace | null; err: Error | null }>((resolve) => journal.append(chunkOf('a', 1), (place, err) => resolve({ place, err })))
    expect(outcome.place).toBeNull()
    expect(outcome.err).toBeInstanceOf(Error)
    await journal.close()
  })
})

describe('which journal files are orphans', () => {
  it('those of processes that are gone, and this process’s own under another boot id; never a live one’s', () => {
    const names = [`journal-${process.pid}-${BOOT}-000000.bin`, `journal-${process.pid}-ffffffffffff-000000.bin`, 'journal-999999-0123456789ab-000001.bin', 'journal-999999-0123456789ab-000000.bin', 'journal-1-0123456789ab-000000.bin', 'inference-log-5-1-0.jsonl']
    for (const n of names) writeFileSync(join(dir, n), '')
    const orphans = orphanJournals(dir, (pid) => pid === 999999, BOOT)
    expect(orphans).toHaveLength(3)
    expect(orphans).toEqual(expect.arrayContaining([
      { file: join(dir, 'journal-999999-0123456789ab-000000.bin'), bootId: '0123456789ab' },
      { file: join(dir, 'journal-999999-0123456789ab-000001.bin'), bootId: '0123456789ab' },
      { file: join(dir, `journal-${process.pid}-ffffffffffff-000000.bin`), bootId: 'ffffffffffff' },
    ]))
    // one process's files in the order it wrote them
    expect(orphans.filter((o) => o.bootId === '0123456789ab').map((o) => o.file)).toEqual([
      join(dir, 'journal-999999-0123456789ab-000000.bin'), join(dir, 'journal-999999-0123456789ab-000001.bin'),
    ])
  })
})

describe('the journal cleaner', () => {
  it('deletes a file once it is finished and every chunk of it is handled, and not before', () => {
    const file = (n: number, boot = BOOT) => join(dir, `journal-1-${boot}-00000${n}.bin`)
    for (const f of [file(0), file(1), file(0, 'ffffffffffff')]) writeFileSync(f, '')
    const cleaner = new JournalCleaner(() => {})
    const first = cleaner.chunk(file(0), true)
    const second = cleaner.chunk(file(0), true)
    const other = cleaner.chunk(file(0, 'ffffffffffff'), false) // another writer's file, being recovered
    const next = cleaner.chunk(file(1), true) // finishes this writer's file 0, not the other writer's
    first()
    expect(existsSync(file(0))).toBe(true) // one chunk of it still outstanding
    second()
    expect(existsSync(file(0))).toBe(false)
    other()
    expect(existsSync(file(0, 'ffffffffffff'))).toBe(true) // not finished: its recovery may still be reading it
    next()
    expect(existsSync(file(1))).toBe(true) // still the current file
    cleaner.finishAll()
    expect(readdirSync(dir)).toEqual([])
  })

  it('keeps a file of this same writer that a restarted writer is reading back until its recovery finishes it', () => {
    const file = (n: number) => join(dir, `journal-1-${BOOT}-00000${n}.bin`)
    for (const f of [file(0), file(1)]) writeFileSync(f, '')
    const cleaner = new JournalCleaner(() => {})
    const recovered = cleaner.chunk(file(0), false) // the failed writer's file, read back
    const live = cleaner.chunk(file(1), true) // the live records go on in a later file of the same process
    recovered()
    live()
    expect(existsSync(file(0))).toBe(true) // more of it may still be read back
    cleaner.finish(file(0))
    expect(existsSync(file(0))).toBe(false)
    expect(existsSync(file(1))).toBe(true)
  })
})
