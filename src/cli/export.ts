/**
 * switchyard export: the inference log of a model, with its ground truth, to JSON lines,
 * CSV or Parquet, for offline analysis. Reads the store directly (a SQLite file is opened
 * read-only, so a running gateway keeps writing), page by page in time order.
 */
import { Command, Option } from 'commander'
import { DEFAULTS } from '../config/options.js'
import { EXPORT_FORMATS, openExportWriter } from '../inference-log/export-writers.js'
import type { ExportFormat } from '../inference-log/export-writers.js'
import { openStore } from '../store/open-store.js'
import { countInferences, countMatching, queryInferences } from '../store/query-sql.js'
import { INFERENCE_ROLES } from '../store/records.js'
import type { InferenceFilter, InferenceRole } from '../store/records.js'
import type { Store } from '../store/store.js'
import { describeStoreSpec, parseStoreSpec } from '../store/store-spec.js'
import type { StoreSpec } from '../store/store-spec.js'
import { parseTimestamp } from '../timestamp.js'
import { exitWith, reader, usageError } from './command.js'
import { ProgressBar } from './progress.js'

const PAGE = 1_000 // records a query

interface ExportValues {
  model: string
  since?: number
  until?: number
  version?: string
  role?: InferenceRole
  format: ExportFormat
  out?: string
  store?: StoreSpec
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write a model\'s inference log, with its ground truth, as jsonl, csv or parquet (a progress bar goes to stderr)')
    .requiredOption('--model <model>', 'the model whose records to export')
    .option('--since <time>', 'from this time on: ISO 8601 or ms since the epoch (default: the first record)', reader((t) => parseTimestamp(t, '--since')))
    .option('--until <time>', 'before this time (default: now)', reader((t) => parseTimestamp(t, '--until')))
    .option('--version <version>', 'only this version')
    .addOption(new Option('--role <role>', 'only this role').choices(INFERENCE_ROLES))
    .addOption(new Option('--format <format>', 'the file format').choices(EXPORT_FORMATS).default('jsonl'))
    .option('--out <file>', 'write here (default: stdout; parquet needs a file)')
    .option('--store <spec>', `sqlite:PATH or postgres://... (SWITCHYARD_STORE, default ${DEFAULTS.store})`, reader(parseStoreSpec))
    .action(exitWith(async (values: ExportValues, self: Command) => {
      if (values.format === 'parquet' && values.out === undefined) usageError(self, '--format parquet needs --out FILE')
      let spec = values.store
      if (spec === undefined) {
        try {
          spec = parseStoreSpec(process.env.SWITCHYARD_STORE ?? DEFAULTS.store)
        } catch (err) {
          usageError(self, `environment variable SWITCHYARD_STORE: ${(err as Error).message}`)
        }
      }
      if (spec.kind === 'none') usageError(self, '--store none has no records to export')
      const filter: InferenceFilter = { model: values.model, version: values.version, role: values.role, since: values.since, until: values.until }
      return exportRecords(spec, filter, values.format, values.out ?? null)
    }))
}

async function exportRecords(spec: Exclude<StoreSpec, { kind: 'none' }>, filter: InferenceFilter, format: ExportFormat, out: string | null): Promise<number> {
  const where = describeStoreSpec(spec)
  let store: Store
  try {
    store = await openStore(spec, { readonly: true })
  } catch (err) {
    process.stderr.write(`switchyard export: cannot open ${where}: ${(err as Error).message}\n`)
    return 1
  }
  try {
    // a misspelt model would otherwise write an empty file and look like success
    if (await store.run(countInferences(filter.model), 'read') === 0) {
      process.stderr.write(`switchyard export: ${where} holds no records of model '${filter.model}'; check the name (switchyard models lists the served ones)\n`)
      return 1
    }
    const total = await store.run(countMatching(filter), 'read')
    const bar = new ProgressBar(total, `exporting ${filter.model}`)
    const writer = await openExportWriter(format, out)
    let after: { ts: number; recordId: string } | undefined
    for (;;) {
      const page = await store.run(queryInferences({ ...filter, limit: PAGE, order: 'asc', after }), 'read')
      await writer.write(page)
      bar.advance(page.length)
      if (page.length < PAGE) break
      const last = page[page.length - 1]
      after = { ts: Date.parse(last.timestamp), recordId: last.record_id }
    }
    await writer.finish()
    bar.finish()
    return 0
  } finally {
    await store.close()
  }
}
