import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openRecordFile } from './record-files.js'
import type { Row } from './record-files.js'

const dir = mkdtempSync(join(tmpdir(), 'switchyard-record-files-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function rowsOf(name: string, text: string): Promise<{ total: number; rows: Row[] }> {
  writeFileSync(join(dir, name), text)
  const file = await openRecordFile(join(dir, name))
  const rows: Row[] = []
  for await (const batch of file.batches(2)) rows.push(...batch)
  return { total: file.total, rows }
}

describe('CSV files', () => {
  it('read quotes, doubled quotes, line breaks inside quotes and CRLF; an empty cell is absent', async () => {
    const { total, rows } = await rowsOf('a.csv', 'id,note,n\r\n1,"a, ""b""",2\r\n2,"two\nlines",\r\n3,,7')
    expect(total).toBe(3)
    expect(rows).toEqual([{ id: '1', note: 'a, "b"', n: '2' }, { id: '2', note: 'two\nlines' }, { id: '3', n: '7' }])
  })

  it('read a doubled quote that falls across two chunks of the file as one quote', async () => {
    const xs = 'x'.repeat(65_536 - 4 - 1 - 1) // the header, the opening quote: the "" straddles byte 65,536
    const { rows } = await rowsOf('b.csv', `a,b\n"${xs}""y",2\n`)
    expect(rows).toEqual([{ a: `${xs}"y`, b: '2' }])
  })

  it('refuse a row whose field count differs from the header', async () => {
    await expect(rowsOf('c.csv', 'a,b\n1,2,3\n')).rejects.toThrow('columns length is 2, got 3 on line 2')
  })
})

describe('record files', () => {
  it('name the formats they read when the extension is another', async () => {
    writeFileSync(join(dir, 'd.xlsx'), '')
    await expect(openRecordFile(join(dir, 'd.xlsx'))).rejects.toThrow('the file must end in .jsonl, .csv, .parquet')
  })

  it('read JSON Lines, skipping blank lines and naming the line that is not JSON', async () => {
    expect((await rowsOf('e.jsonl', '{"a":1}\n\n{"a":2}\n')).rows).toEqual([{ a: 1 }, { a: 2 }])
    await expect(rowsOf('f.jsonl', '{"a":1}\n{oops\n')).rejects.toThrow('f.jsonl:2: not JSON')
  })
})
