/**
 * switchyard upload --model M [--version V] FILE: inferences made elsewhere (a batch job,
 * another server) sent to a running gateway, 1,000 a call (POST /v1/models/M/inferences),
 * with a progress bar on stderr. Resumable by the endpoint's idempotency: a re-run sends the
 * file again and the gateway stores only what it has not got, so the records already stored
 * are counted as skipped.
 *
 * A JSON Lines line is an item as the endpoint takes it, or a flat row; a CSV or Parquet row
 * is flat (docs/inference-log.md, "Inferences sent in"):
 *
 *   inference_id, timestamp, version     the item's own fields
 *   label, probability, score, prediction, value   its outputs
 *   attributes.<name>                    its attributes
 *   any other column                     an input feature
 */
import { call, clientFromEnv, gatewayCommand, guarded, retryingUnavailable } from './client.js'
import type { ClientOptions } from './client.js'
import { exitWith, reader, usageError } from './command.js'
import { ProgressBar } from './progress.js'
import { openRecordFile, RECORD_FORMATS } from './record-files.js'
import type { RecordFile, Row } from './record-files.js'

export const OUTPUT_COLUMNS = ['label', 'probability', 'score', 'prediction', 'value']
const ATTRIBUTE_PREFIX = 'attributes.'
const ITEM_FIELDS = ['inference_id', 'timestamp', 'version']
const SHOWN_ERRORS = 10 // rejected items printed; the rest are counted

interface SentInAnswer {
  accepted: number
  duplicate: number
  rejected: number
  errors: { index: number; code: string; message: string }[]
}

export function uploadCommand() {
  return gatewayCommand('upload', `send inferences made elsewhere to the gateway from a ${RECORD_FORMATS.join(', ')} file; a re-run skips what is stored`)
    .argument('<file>', 'the records: one a line or row')
    .requiredOption('--model <model>', 'the model they belong to')
    .option('--version <version>', 'the version of the records that name none')
    .option('--batch-size <n>', 'records a call (at most 10000)', reader(batchSize), 1_000)
    .action(exitWith(async (path: string, values: { model: string; version?: string; batchSize: number; url?: string }, self) => {
      let file: RecordFile
      try {
        file = await openRecordFile(path)
      } catch (err) {
        usageError(self, (err as Error).message)
      }
      return guarded(() => upload(clientFromEnv(values.url), file, values.model, values.version, values.batchSize))
    }))
}

export function batchSize(text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1 || n > 10_000) throw new Error('must be a whole number from 1 to 10000')
  return n
}

async function upload(client: ClientOptions, file: RecordFile, model: string, version: string | undefined, size: number): Promise<number> {
  const path = `/v1/models/${encodeURIComponent(model)}/inferences${version === undefined ? '' : `?version=${encodeURIComponent(version)}`}`
  const totals = { accepted: 0, duplicate: 0, rejected: 0, calls: 0 }
  const bar = new ProgressBar(file.total, `uploading to ${model}`)
  let first = 0 // the batch's first record, counted from 1
  for await (const rows of file.batches(size)) {
    const answer = await retryingUnavailable(() => call<SentInAnswer>(client, 'POST', path, rows.map((r) => itemOf(r, file.isText))))
    totals.calls++
    totals.accepted += answer.accepted
    totals.duplicate += answer.duplicate
    for (const e of answer.errors) {
      if (totals.rejected++ < SHOWN_ERRORS) process.stderr.write(`switchyard: record ${first + e.index + 1} rejected: ${e.message} (${e.code})\n`)
    }
    first += rows.length
    bar.advance(rows.length)
  }
  bar.finish()
  process.stdout.write(`${model}: ${first} records in ${totals.calls} call${totals.calls === 1 ? '' : 's'}: ${totals.accepted} stored, ` +
    `${totals.duplicate} already stored (skipped), ${totals.rejected} rejected\n`)
  return totals.rejected > 0 ? 1 : 0
}

/** A row as the endpoint's item: a JSON Lines item as it is, a flat row by its columns. */
export function itemOf(row: Row, isText: boolean): Row {
  if (Object.hasOwn(row, 'inputs')) return row
  const item: Row = {}
  const inputs: Row = {}
  const outputs: Row = {}
  const attributes: Row = {}
  for (const [column, value] of Object.entries(row)) {
    if (ITEM_FIELDS.includes(column)) item[column] = value
    else if (OUTPUT_COLUMNS.includes(column)) outputs[column] = isText ? typed(value) : value
    else if (column.startsWith(ATTRIBUTE_PREFIX)) attributes[column.slice(ATTRIBUTE_PREFIX.length)] = isText ? typed(value) : value
    else inputs[column] = isText ? typed(value) : value
  }
  item.inputs = inputs
  item.outputs = outputs
  if (Object.keys(attributes).length > 0) item.attributes = attributes
  return item
}

const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/

/** A CSV cell that reads as a number is one: CSV has no types. */
export function typed(value: unknown): unknown {
  return typeof value === 'string' && NUMBER.test(value) ? Number(value) : value
}
