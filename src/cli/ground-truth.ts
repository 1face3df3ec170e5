/**
 * switchyard ground-truth --model M FILE: outcomes known later, from a .jsonl, .csv or
 * .parquet file of `inference_id`, `label` and/or `value`, and `timestamp` (optional), sent
 * to a running gateway 1,000 a call (POST /v1/models/M/ground-truth), with a progress bar on
 * stderr. Sending a file again is harmless: ground truth is kept once an id, the later winning.
 */
import { call, clientFromEnv, GatewayCallError, gatewayCommand, guarded, retryingUnavailable } from './client.js'
import type { ClientOptions } from './client.js'
import { exitWith, reader, usageError } from './command.js'
import { ProgressBar } from './progress.js'
import { openRecordFile, RECORD_FORMATS } from './record-files.js'
import type { RecordFile, Row } from './record-files.js'
import { batchSize, typed } from './upload.js'

interface GroundTruthAnswer {
  joined: number
  records: number
  unknown_ids: string[]
}

export function groundTruthCommand() {
  return gatewayCommand('ground-truth', `send ground truth (inference_id, label or value, timestamp) to the gateway from a ${RECORD_FORMATS.join(', ')} file`)
    .argument('<file>', 'the outcomes: one a line or row')
    .requiredOption('--model <model>', 'the model whose inferences they judge')
    .option('--batch-size <n>', 'items a call (at most 10000)', reader(batchSize), 1_000)
    .action(exitWith(async (path: string, values: { model: string; batchSize: number; url?: string }, self) => {
      let file: RecordFile
      try {
        file = await openRecordFile(path)
      } catch (err) {
        usageError(self, (err as Error).message)
      }
      return guarded(() => sendGroundTruth(clientFromEnv(values.url), file, values.model, values.batchSize))
    }))
}

async function sendGroundTruth(client: ClientOptions, file: RecordFile, model: string, size: number): Promise<number> {
  const path = `/v1/models/${encodeURIComponent(model)}/ground-truth`
  const totals = { joined: 0, records: 0, unknown: 0, calls: 0, items: 0 }
  const bar = new ProgressBar(file.total, `ground truth for ${model}`)
  for await (const rows of file.batches(size)) {
    const answer = await retryingUnavailable(() => call<GroundTruthAnswer>(client, 'POST', path, rows.map((r) => truthOf(r, file.isText)))).catch((err: unknown) => {
      // a bad item fails its whole call: say where in the file it is
      if (err instanceof GatewayCallError) throw new GatewayCallError(`records ${totals.items + 1} to ${totals.items + rows.length}: ${err.message}`, err.status)
      throw err
    })
    totals.calls++
    totals.items += rows.length
    totals.joined += answer.joined
    totals.records += answer.records
    totals.unknown += answer.unknown_ids.length
    bar.advance(rows.length)
  }
  bar.finish()
  process.stdout.write(`${model}: ${totals.items} items in ${totals.calls} call${totals.calls === 1 ? '' : 's'}: ${totals.joined} joined to ${totals.records} records, ` +
    `${totals.unknown} with no record (not stored)\n`)
  return 0
}

/** A CSV row's `value` as a number; the label stays text, as the store keeps it. */
function truthOf(row: Row, isText: boolean): Row {
  return isText && row.value !== undefined ? { ...row, value: typed(row.value) } : row
}
