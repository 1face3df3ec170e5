/**
 * switchyard drift --model M --version V: GET /v1/models/{model}/drift as a table, flagged
 * features first (docs/drift.md). Exit 0 either way: drift is a finding, not a failure.
 */
import type { DriftReport, FeatureDrift } from '../drift/drift.js'
import { call, clientFromEnv, gatewayCommand, guarded, table } from './client.js'
import { exitWith } from './command.js'

interface DriftValues {
  model: string
  version: string
  since?: string
  until?: string
  reference?: string
  url?: string
}

const fixed = (x: number | null, digits: number) => (x === null ? null : x < 10 ** -digits && x > 0 ? x.toExponential(1) : x.toFixed(digits))

export function driftCommand() {
  return gatewayCommand('drift', "how a version's inputs and score in a window differ from its reference: PSI, KS or chi-square, flagged features first")
    .requiredOption('--model <model>', 'the model')
    .requiredOption('--version <version>', 'the version whose records to measure')
    .option('--since <time>', 'from this time: ISO 8601 or ms since the epoch (default: a day before --until)')
    .option('--until <time>', 'before this time (default: now)')
    .option('--reference <reference>', 'profile (default), profile:VERSION, VERSION (its records in the same window) or window:SINCE..UNTIL')
    .action(exitWith((values: DriftValues) => guarded(async () => {
      const q = new URLSearchParams({ version: values.version })
      for (const k of ['since', 'until', 'reference'] as const) if (values[k] !== undefined) q.set(k, values[k]!)
      const r = await call<DriftReport>(clientFromEnv(values.url), 'GET', `/v1/models/${encodeURIComponent(values.model)}/drift?${q}`)
      const rows = [...r.features, ...(r.score === null ? [] : [r.score])].map((f: FeatureDrift) => [
        f.feature, f.kind, f.n, fixed(f.psi, 3), f.test, fixed(f.statistic, 3), fixed(f.p_value, 3), f.flagged ? 'DRIFT' : '',
      ])
      const flagged = [...r.features, ...(r.score === null ? [] : [r.score])].filter((f) => f.flagged).length
      process.stdout.write(`${r.model} ${r.version}: ${r.n} records against ${describe(r.reference)}; ${flagged} flagged at PSI >= ${r.thresholds.psi}\n`)
      process.stdout.write(table(['FEATURE', 'KIND', 'N', 'PSI', 'TEST', 'STATISTIC', 'P', 'FLAG'], rows))
      return 0
    })))
}

function describe(reference: DriftReport['reference']): string {
  if (reference.kind === 'profile') return `the reference profile of ${String(reference.version)} (${String(reference.records)} rows from ${String(reference.source)})`
  if (reference.kind === 'version') return `${String(reference.version)}'s ${String(reference.n)} records`
  return `its ${String(reference.n)} records from ${String(reference.since)} to ${String(reference.until)}`
}
