/**
 * Files of records for `switchyard upload` and `switchyard ground-truth`: JSON Lines, CSV and
 * Parquet, read a batch at a time, each row an object by column name. The format is the
 * file's extension. How the columns become an item sent in is upload.ts's business.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname } from 'node:path'
import { createInterface } from 'node:readline'
import { parse } from 'csv-parse'
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'

export const RECORD_FORMATS = ['.jsonl', '.csv', '.parquet'] as const

export type Row = Record<string, unknown>

export interface RecordFile {
  /** Rows in the file (a progress bar's total). */
  readonly total: number
  /** Every value is text (CSV has no types): the reader of a column decides what it is. */
  readonly isText: boolean
  /** The rows, `size` at a time, in file order. */
  batches(size: number): AsyncIterable<Row[]>
}

/** The file, or an Error whose message says what is wrong with it (a usage mistake). */
export async function openRecordFile(path: string): Promise<RecordFile> {
  const format = extname(path).toLowerCase()
  if (!(RECORD_FORMATS as readonly string[]).includes(format)) throw new Error(`cannot read '${path}': the file must end in ${RECORD_FORMATS.join(', ')}`)
  const info = await stat(path).catch(() => null)
  if (info === null || !info.isFile()) throw new Error(`cannot read '${path}': no such file`)
  if (format === '.parquet') return parquetFile(path)
  return format === '.csv' ? csvFile(path) : jsonLinesFile(path)
}

async function* inBatches(rows: AsyncIterable<Row>, size: number): AsyncIterable<Row[]> {
  let batch: Row[] = []
  for await (const row of rows) {
    batch.push(row)
    if (batch.length === size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

function lines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })
}

/** Lines that are not blank, counted by reading the file once. */
async function countLines(path: string): Promise<number> {
  let n = 0
  for await (const line of lines(path)) if (line.trim() !== '') n++
  return n
}

async function jsonLinesFile(path: string): Promise<RecordFile> {
  const total = await countLines(path)
  async function* rows(): AsyncIterable<Row> {
    let lineNumber = 0
    for await (const line of lines(path)) {
      lineNumber++
      if (line.trim() === '') continue
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch (err) {
        throw new Error(`${path}:${lineNumber}: not JSON (${(err as Error).message})`)
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${path}:${lineNumber}: not a JSON object`)
      yield value as Row
    }
  }
  return { total, isText: false, batches: (size) => inBatches(rows(), size) }
}

/**
 * CSV as RFC 4180 writes it, read by csv-parse: the first record the column names, an empty
 * cell absent (CSV has no null).
 */
async function csvFile(path: string): Promise<RecordFile> {
  let total = 0
  for await (const _ of csvRows(path)) total++
  return { total, isText: true, batches: (size) => inBatches(csvRows(path), size) }
}

async function* csvRows(path: string): AsyncIterable<Row> {
  const records = createReadStream(path).pipe(parse({ columns: (header: string[]) => header.map((name) => name.trim()), skip_empty_lines: true, bom: true }))
  try {
    for await (const record of records as AsyncIterable<Record<string, string>>) {
      const row: Row = {}
      for (const [name, value] of Object.entries(record)) if (value !== '') row[name] = value
      yield row
    }
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`)
  }
}

async function parquetFile(path: string): Promise<RecordFile> {
  const file = await asyncBufferFromFile(path)
  const metadata = await parquetMetadataAsync(file)
  const total = Number(metadata.num_rows)
  async function* batches(size: number): AsyncIterable<Row[]> {
    for (let start = 0; start < total; start += size) {
      const rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: Math.min(total, start + size) })
      yield rows.map(plainRow)
    }
  }
  return { total, isText: false, batches }
}

/** Parquet's INT64 arrives as a bigint and its times as Dates: as JSON has them, a number and ISO text. */
function plainRow(row: Record<string, unknown>): Row {
  const out: Row = {}
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined) continue
    out[k] = typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : v instanceof Date ? v.toISOString() : v
  }
  return out
}
