import { describe, expect, it } from 'vitest'
import { indexOperations, namedOperations, reads, sql, writes } from './operation.js'
import type { Operation } from './operation.js'

function* count(model: string): Operation<number> {
  const [row] = yield sql('SELECT count(*) AS n FROM inferences WHERE model = ?', model)
  return Number(row.n)
}
function* forget(): Operation<void> {
  yield sql('DELETE FROM nothing')
}

describe('named operations', () => {
  it('are named after their client and key, with the transaction they need', () => {
    const ops = namedOperations('records', { count: reads(count), forget: writes(forget) })
    expect(ops.count).toMatchObject({ name: 'records.count', mode: 'read' })
    expect(ops.forget).toMatchObject({ name: 'records.forget', mode: 'write' })
    const index = indexOperations([ops, namedOperations('other', { count: reads(count) })])
    expect([...index.keys()]).toEqual(['records.count', 'records.forget', 'other.count'])
    expect(index.get('records.count')!.start('m').next().value).toEqual({ sql: 'SELECT count(*) AS n FROM inferences WHERE model = ?', params: ['m'] })
  })

  it('are refused when two clients would give one name twice', () => {
    const a = namedOperations('records', { count: reads(count) })
    expect(() => indexOperations([a, namedOperations('records', { count: writes(count) })])).toThrow(/two store operations are named 'records.count'/)
  })
})
