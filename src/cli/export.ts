/**
 * switchyard export: the inference log of a model, with its ground truth, to JSON lines,
 * CSV or Parquet, for offline analysis. Reads the store directly (a SQLite file is opened
 * read-only, so a running gateway keeps writing), page by page in time order.
 */
import { parseArgs } from 'node:util'
import { parseTimestamp } from '../http/caller-meta.js'
import { DEFAULTS } from '../config/options.js'
import { INFERENCE_ROLES } from '../inference-log/event.js'
import type { InferenceFilter, InferenceRole } from '../inference-log/event.js'
import { EXPORT_FORMATS, openExportWriter } from '../inference-log/export-writers.js'
import type { ExportFormat } from '../inference-log/export-writers.js'
import { openStore } from '../inference-log/store.js'
import { parseStoreSpec } from '../inference-log/store-spec.js'
import { ProgressBar } from './progress.js'

const PAGE = 1_000 // records a query

const HELP = `usage: switchyard export --model M [options]

  --model M        the model whose records to export (required)
  --since T        from this time on (ISO 8601 or ms since the epoch; default: the first record)
  --until T        before this time (default: now)
  --version V      only this version
  --role R         only this role: ${INFERENCE_ROLES.join(', ')}
  --format F       ${EXPORT_FORMATS.join(', ')} (default jsonl)
  --out FILE       write here (default: stdout; parquet needs a file)
  --store S        sqlite:PATH or postgres://... (SWITCHYARD_STORE, default ${DEFAULTS.store})

  A progress bar goes to stderr.`

export async function exportCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      version: { type: 'string' },
      role: { type: 'string' },
      format: { type: 'string', default: 'jsonl' },
      out: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  const usage = (message: string): number => {
    process.stderr.write(`switchyard export: ${message}\n\n${HELP}\n`)
    return 2
  }
  if (values.model === undefined) return usage('--model is required')
  const format = values.format as ExportFormat
  if (!EXPORT_FORMATS.includes(format)) return usage(`--format must be one of ${EXPORT_FORMATS.join(', ')}`)
  if (format === 'parquet' && values.out === undefined) return usage('--format parquet needs --out FILE')
  if (values.role !== undefined && !INFERENCE_ROLES.includes(values.role as InferenceRole)) return usage(`--role must be one of ${INFERENCE_ROLES.join(', ')}`)
  let filter: InferenceFilter
  let spec: ReturnType<typeof parseStoreSpec>
  try {
    filter = {
      model: values.model,
      version: values.version,
      role: values.role as InferenceRole | undefined,
      since: values.since === undefined ? undefined : parseTimestamp(values.since, '--since'),
      until: values.until === undefined ? undefined : parseTimestamp(values.until, '--until'),
    }
    spec = parseStoreSpec(values.store ?? process.env.SWITCHYARD_STORE ?? DEFAULTS.store)
  } catch (err) {
    return usage((err as Error).message)
  }
  if (spec.kind === 'none') return usage('--store none has no records to export')

  const store = await openStore(spec, { readonly: true })
  try {
    const total = await store.countMatching(filter)
    const bar = new ProgressBar(total, `exporting ${values.model}`)
    const writer = await openExportWriter(format, values.out ?? null)
    let after: { ts: number; recordId: string } | undefined
    for (;;) {
      const page = await store.query({ ...filter, limit: PAGE, order: 'asc', after })
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
