/**
 * Issue #17: the route revisions' operations on both real stores. Numbers are global, the same
 * file is one revision, a rollback is a new head that the unchanged file does not undo, and two
 * replicas recording one edit at the same moment take exactly one number.
 */
import { describe, expect, it } from 'vitest'
import { head, history, recordFile, rollback } from '../../src/store/route-revisions.js'
import { STORE_KINDS, twoReplicasOn } from './stores.js'

const file = (text: string, trigger = 'file watch') => ({ sha256: `sha-of-${text}`, source: text, trigger, actor: 'system' })

describe.each(STORE_KINDS)('route revisions on %s', (kind) => {
  const twoReplicas = twoReplicasOn(kind, 'switchyard-revisions-store-')

  it('numbers files once for every replica; the same file is the same revision', async () => {
    const [a, b] = await twoReplicas()
    expect(await a.run(head(), 'read')).toBeNull()
    expect((await a.run(recordFile(file('one')))).head.number).toBe(1)
    expect((await b.run(recordFile(file('one')))).head.number).toBe(1)
    expect((await b.run(recordFile(file('two')))).head).toMatchObject({ number: 2, origin: 'file', source: 'two' })
    expect((await a.run(recordFile(file('two')))).file.number).toBe(2)
    expect((await a.run(history(), 'read')).map((r) => r.number)).toEqual([1, 2])
  })

  it('keeps a rollback in force while the file is unchanged, until it changes again', async () => {
    const [a, b] = await twoReplicas()
    await a.run(recordFile(file('one')))
    await a.run(recordFile(file('two')))
    const rolled = await b.run(rollback(1, 'rollback to revision 1 by alice', 'alice'))
    expect(rolled).toMatchObject({ changed: true, head: { number: 3, origin: 'rollback', rollbackOf: 1, source: 'one', actor: 'alice' } })
    expect((await b.run(rollback(1, 'again', 'alice'))).changed).toBe(false)
    // a replica restarting on the unchanged file finds the rollback in force
    expect(await a.run(recordFile(file('two', 'start')))).toMatchObject({ head: { number: 3 }, file: { number: 2 } })
    expect((await a.run(recordFile(file('three')))).head).toMatchObject({ number: 4, origin: 'file', source: 'three' })
    await expect(a.run(rollback(99, 'rollback', 'alice'))).rejects.toMatchObject({ code: 'REVISION_NOT_FOUND', status: 404 })
  })

  it('gives two replicas recording one edit at the same moment exactly one number', async () => {
    const [a, b] = await twoReplicas()
    await a.run(recordFile(file('one')))
    for (let i = 0; i < 10; i++) {
      const edit = file(`edit ${i}`)
      const [fromA, fromB] = await Promise.all([a.run(recordFile(edit)), b.run(recordFile(edit))])
      expect(fromA.file.number).toBe(fromB.file.number)
    }
    expect((await a.run(history(), 'read')).map((r) => r.number)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1))
  })
})
