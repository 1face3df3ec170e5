/**
 * switchyard reference --model M --version V FILE: a version's reference profile (bins and
 * counts per feature and for the score, drift/profile.ts) built here from a .csv, .jsonl or
 * .parquet file of its training or validation data, and sent to the gateway, which keeps it
 * in the store (PUT /v1/models/{model}/versions/{version}/reference). Only the profile
 * travels; --out writes it to a file instead (a version folder's reference.json).
 */
import { writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { buildProfile, profileFileText } from '../drift/profile.js'
import type { CellValue, ReferenceProfile } from '../drift/profile.js'
import { call, clientFromEnv, gatewayCommand, guarded, table } from './client.js'
import { exitWith, usageError } from './command.js'
import { openRecordFile } from './record-files.js'
import type { RecordFile } from './record-files.js'

const SCORE_COLUMNS = ['score', 'probability'] // taken as the score when --score is not given, in this order
const BATCH = 10_000 // rows read at a time
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/

/** A file's value as a profile counts it: CSV's text read as a number where it is one; objects and arrays as missing. */
function cellOf(value: unknown, isText: boolean): CellValue {
  if (isText && typeof value === 'string' && NUMBER.test(value.trim())) return Number(value)
  return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' ? value : null
}

interface ReferenceValues {
  model: string
  version: string
  score?: string
  exclude?: string
  out?: string
  url?: string
}

/** The profile of a file's rows: every column a feature but the score and the excluded ones. Throws an Error that names what is wrong. */
export async function profileOfFile(file: RecordFile, source: string, options: { score?: string; exclude: readonly string[] }): Promise<ReferenceProfile> {
  const columns = new Map<string, CellValue[]>()
  const scores: number[] = []
  let records = 0
  let scoreColumn: string | null | undefined = options.score
  for await (const batch of file.batches(BATCH)) {
    for (const row of batch) {
      scoreColumn ??= SCORE_COLUMNS.find((c) => c in row) ?? null
      for (const [name, value] of Object.entries(row)) {
        if (name === scoreColumn || options.exclude.includes(name)) continue
        let column = columns.get(name)
        if (column === undefined) {
          column = new Array<CellValue>(records).fill(null) // a column first met in a later row (JSON Lines)
          columns.set(name, column)
        }
        column.push(cellOf(value, file.isText))
      }
      records++
      for (const column of columns.values()) if (column.length < records) column.push(null)
      const score = scoreColumn === null ? null : cellOf(row[scoreColumn], file.isText)
      if (typeof score === 'number' && Number.isFinite(score)) scores.push(score)
    }
  }
  if (records === 0) throw new Error(`${source} holds no rows`)
  if (options.score !== undefined && scores.length === 0) throw new Error(`${source} has no numbers in the score column '${options.score}'`)
  if (columns.size === 0) throw new Error(`${source} has no feature columns left once the score and --exclude are taken out`)
  return buildProfile({ source, columns, scores: scores.length === 0 ? null : scores, records })
}

export function referenceCommand() {
  return gatewayCommand('reference', 'build a version\'s reference profile from its training or validation data (.csv, .jsonl, .parquet) and give it to the gateway, for drift')
    .argument('<file>', 'the reference data: one row a record, one column a feature')
    .requiredOption('--model <model>', 'the model')
    .requiredOption('--version <version>', 'the version the data is the reference of')
    .option('--score <column>', `the column holding the model's score on each row (default: ${SCORE_COLUMNS.join(' or ')}, when there is one)`)
    .option('--exclude <columns>', 'columns that are not features, comma-separated (a label, an id)')
    .option('--out <file>', 'write the profile to this file instead of sending it (e.g. models/M/V/reference.json)')
    .action(exitWith(async (path: string, values: ReferenceValues, self) => {
      let file: RecordFile
      try {
        file = await openRecordFile(path)
      } catch (err) {
        usageError(self, (err as Error).message)
      }
      let profile: ReferenceProfile
      try {
        profile = await profileOfFile(file, basename(path), { score: values.score, exclude: (values.exclude ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '') })
      } catch (err) {
        process.stderr.write(`switchyard reference: ${(err as Error).message}\n`)
        return 1
      }
      if (values.out !== undefined) {
        writeFileSync(values.out, profileFileText(profile))
      } else {
        const code = await guarded(async () => {
          const path = `/v1/models/${encodeURIComponent(values.model)}/versions/${encodeURIComponent(values.version)}/reference`
          await call(clientFromEnv(values.url), 'PUT', path, profile)
          return 0
        })
        if (code !== 0) return code
      }
      const columns = [...profile.features, ...(profile.score === null ? [] : [profile.score])]
      process.stdout.write(table(['FEATURE', 'KIND', 'BINS', 'N'], columns.map((c) => [c.feature, c.kind, c.counts.length, c.n])))
      process.stdout.write(`${values.out === undefined ? `${values.model} ${values.version}: reference profile of` : `wrote ${values.out}: the profile of`} ${profile.records} rows from ${profile.source}\n`)
      return 0
    }))
}
