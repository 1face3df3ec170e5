/**
 * `switchyard export` output formats. Every format has the same columns; inputs, outputs and
 * attributes stay JSON (their fields differ between versions and models), so that an export
 * is lossless and its schema never depends on the data.
 *
 *   jsonl    one record a line, as GET /v1/models/{model}/inferences gives it
 *   csv      RFC 4180, a header row, JSON columns as quoted text
 *   parquet  typed columns (timestamps as TIMESTAMP_MILLIS, JSON columns as JSON), row groups
 *            written as pages arrive, so memory stays flat however large the export
 */
import { createWriteStream } from 'node:fs'
import type { Writable } from 'node:stream'
import type { InferenceRecord } from '../store/records.js'

const PARQUET_ROW_GROUP = 20_000 // rows: pages are gathered into row groups this large

export type ExportFormat = 'jsonl' | 'csv' | 'parquet'
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'csv', 'parquet']

export interface ExportWriter {
  write(records: readonly InferenceRecord[]): Promise<void>
  finish(): Promise<void>
}

type ColumnType = 'STRING' | 'TIMESTAMP' | 'DOUBLE' | 'INT32' | 'JSON'

/** The columns of every format, in order, with how to read each from a record. */
const COLUMNS: readonly { name: string; type: ColumnType; read: (r: InferenceRecord) => unknown }[] = [
  { name: 'record_id', type: 'STRING', read: (r) => r.record_id },
  { name: 'inference_id', type: 'STRING', read: (r) => r.inference_id },
  { name: 'timestamp', type: 'TIMESTAMP', read: (r) => r.timestamp },
  { name: 'server_timestamp', type: 'TIMESTAMP', read: (r) => r.server_timestamp },
  { name: 'model', type: 'STRING', read: (r) => r.model },
  { name: 'version', type: 'STRING', read: (r) => r.version },
  { name: 'route', type: 'STRING', read: (r) => r.route },
  { name: 'reason', type: 'STRING', read: (r) => r.reason },
  { name: 'role', type: 'STRING', read: (r) => r.role },
  { name: 'sticky_hash', type: 'STRING', read: (r) => r.sticky_hash },
  { name: 'inputs', type: 'JSON', read: (r) => r.inputs },
  { name: 'outputs', type: 'JSON', read: (r) => r.outputs },
  { name: 'latency_ms', type: 'DOUBLE', read: (r) => r.latency_ms },
  { name: 'status', type: 'INT32', read: (r) => r.status },
  { name: 'error_code', type: 'STRING', read: (r) => r.error_code },
  { name: 'revision', type: 'INT32', read: (r) => r.revision },
  { name: 'attributes', type: 'JSON', read: (r) => r.attributes },
  { name: 'ground_truth_label', type: 'STRING', read: (r) => r.ground_truth?.label ?? null },
  { name: 'ground_truth_value', type: 'DOUBLE', read: (r) => r.ground_truth?.value ?? null },
  { name: 'ground_truth_timestamp', type: 'TIMESTAMP', read: (r) => r.ground_truth?.timestamp ?? null },
]

export const EXPORT_COLUMNS: readonly string[] = COLUMNS.map((c) => c.name)

/** A writer for `format` into `path`, or stdout when path is null (not for parquet). */
export async function openExportWriter(format: ExportFormat, path: string | null): Promise<ExportWriter> {
  if (format === 'parquet') {
    if (path === null) throw new Error('parquet needs --out FILE: it cannot be streamed to a terminal')
    return parquetWriter(path)
  }
  const out: Writable = path === null ? process.stdout : createWriteStream(path)
  const lines = format === 'jsonl' ? jsonLines : csvLines
  if (format === 'csv') await writeText(out, EXPORT_COLUMNS.join(',') + '\r\n')
  return {
    write: (records) => writeText(out, lines(records)),
    finish: () => (out === process.stdout ? Promise.resolve() : new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))),
  }
}

function writeText(out: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (text.length === 0) return resolve()
    out.write(text, (err) => (err ? reject(err) : resolve()))
  })
}

function jsonLines(records: readonly InferenceRecord[]): string {
  return records.map((r) => JSON.stringify(r) + '\n').join('')
}

function csvLines(records: readonly InferenceRecord[]): string {
  return records.map((r) => COLUMNS.map((c) => csvCell(c.read(r), c.type)).join(',') + '\r\n').join('')
}

function csvCell(value: unknown, type: ColumnType): string {
  if (value === null || value === undefined) return ''
  const text = type === 'JSON' ? JSON.stringify(value) : String(value)
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

async function parquetWriter(path: string): Promise<ExportWriter> {
  const { ParquetWriter, fileWriter, schemaFromColumnData } = await import('hyparquet-writer')
  const columnData = (records: readonly InferenceRecord[]) => COLUMNS.map((c) => ({
    name: c.name,
    type: c.type,
    data: records.map((r) => {
      const v = c.read(r)
      if (v === null || v === undefined) return null
      return c.type === 'TIMESTAMP' ? new Date(v as string) : v
    }),
  }))
  const writer = new ParquetWriter({ writer: fileWriter(path), schema: schemaFromColumnData({ columnData: columnData([]) }) })
  let group: InferenceRecord[] = []
  const flush = async () => {
    if (group.length > 0) await writer.write({ columnData: columnData(group), rowGroupSize: PARQUET_ROW_GROUP })
    group = []
  }
  return {
    write: async (records) => {
      for (const r of records) group.push(r)
      if (group.length >= PARQUET_ROW_GROUP) await flush()
    },
    finish: async () => {
      await flush()
      await writer.finish()
    },
  }
}
