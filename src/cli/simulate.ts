/**
 * switchyard simulate: replays rows of the synthetic credit-default data set against a
 * running gateway as routed predictions, each with an inference id and a sticky key, and
 * after a delay posts their true labels as ground truth, so that a newcomer watches a
 * champion-challenger comparison come alive (GET /v1/models/{model}/compare, /dashboard).
 * With --drift the rows are shifted (sample-data/credit-default.ts driftedRow), so that drift
 * against the versions' reference profiles appears (GET /v1/models/{model}/drift).
 */
import { Command } from 'commander'
import { creditRowGenerator, CREDIT_FEATURES } from '../sample-data/credit-default.js'
import { exitWith, reader } from './command.js'
import { ProgressBar } from './progress.js'

export interface SimulateOptions {
  readonly url: string
  readonly model: string
  readonly rps: number
  readonly durationMs: number
  readonly groundTruthDelayMs: number
  readonly customers: number
  readonly seed: number
  /** Shift the rows away from the training data (younger clients, lower limits, higher bills). */
  readonly drift?: boolean
  readonly token?: string
  /** Progress and summary go here (stderr for the CLI). */
  readonly out: NodeJS.WriteStream | null
}

/** The simulation cannot start: the gateway is unreachable, the model unknown, the token missing. */
export class SimulateError extends Error {}

export interface SimulateSummary {
  sent: number
  answered: number
  failed: number
  /** Why requests failed ("404 MODEL_NOT_FOUND: ..."), with how many failed so. */
  failures: Record<string, number>
  byVersion: Record<string, number>
  groundTruthPosted: number
  groundTruthJoined: number
  /** Labels whose post failed, by reason. */
  groundTruthFailures: Record<string, number>
  latencyMs: { p50: number | null; p99: number | null }
}

const GROUND_TRUTH_EVERY_MS = 500
const TICK_MS = 20

export async function simulate(o: SimulateOptions): Promise<SimulateSummary> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) }
  await preflight(o, headers)
  const sticky = await stickyKey(o, headers)
  const rows = creditRowGenerator(o.seed, { drifted: o.drift === true })
  const run = o.seed.toString(36)
  const summary: SimulateSummary = {
    sent: 0, answered: 0, failed: 0, failures: {}, byVersion: {}, groundTruthPosted: 0, groundTruthJoined: 0, groundTruthFailures: {}, latencyMs: { p50: null, p99: null },
  }
  const latencies: number[] = []
  const due: { at: number; id: string; label: number }[] = [] // labels waiting for their delay
  const inFlight = new Set<Promise<void>>()
  const total = Math.round((o.rps * o.durationMs) / 1000)
  const bar = o.out === null ? null : new ProgressBar(total, `simulating ${o.model}`, o.out)

  const send = (i: number): void => {
    const row = rows.next().value!
    const id = `sim-${run}-${i}`
    const customer = `customer-${i % o.customers}`
    const instance = Object.fromEntries(CREDIT_FEATURES.map((f) => [f, row[f]]))
    const requestHeaders: Record<string, string> = { ...headers, 'x-inference-id': id }
    if (sticky?.kind === 'header') requestHeaders[sticky.name] = customer
    if (sticky?.kind === 'cookie') requestHeaders.cookie = `${sticky.name}=${customer}`
    const body: Record<string, unknown> = { instances: [instance] }
    if (sticky?.kind === 'field') body[sticky.name] = customer
    const started = performance.now()
    summary.sent++
    const p = fetch(`${o.url}/v1/models/${encodeURIComponent(o.model)}/predict`, { method: 'POST', headers: requestHeaders, body: JSON.stringify(body) })
      .then(async (res) => {
        if (res.status !== 200) throw new Error(await failureReason(res))
        await res.arrayBuffer()
        latencies.push(performance.now() - started)
        summary.answered++
        const version = res.headers.get('x-model-version') ?? '?'
        summary.byVersion[version] = (summary.byVersion[version] ?? 0) + 1
        due.push({ at: Date.now() + o.groundTruthDelayMs, id, label: row.default })
      })
      .catch((err: unknown) => {
        summary.failed++
        count(summary.failures, (err as Error).message)
      })
      .finally(() => {
        inFlight.delete(p)
        bar?.advance(1)
      })
    inFlight.add(p)
  }

  const postTruth = async (all: boolean): Promise<void> => {
    const now = Date.now()
    const ready = all ? due.splice(0) : due.splice(0, due.findIndex((d) => d.at > now) === -1 ? due.length : due.findIndex((d) => d.at > now))
    if (ready.length === 0) return
    const res = await fetch(`${o.url}/v1/models/${encodeURIComponent(o.model)}/ground-truth`, {
      method: 'POST', headers, body: JSON.stringify(ready.map((d) => ({ inference_id: d.id, label: d.label }))),
    }).catch((err: Error) => err)
    if (res instanceof Error || !res.ok) {
      count(summary.groundTruthFailures, res instanceof Error ? `cannot reach the gateway: ${res.message}` : await failureReason(res), ready.length)
      return
    }
    const outcome = (await res.json()) as { joined?: number }
    summary.groundTruthPosted += ready.length
    summary.groundTruthJoined += outcome.joined ?? 0
  }

  const start = Date.now()
  let truthTimer = Date.now()
  for (let i = 0; i < total;) {
    const shouldHaveSent = Math.min(total, Math.floor(((Date.now() - start) * o.rps) / 1000) + 1)
    while (i < shouldHaveSent) send(i++)
    if (Date.now() - truthTimer >= GROUND_TRUTH_EVERY_MS) {
      truthTimer = Date.now()
      await postTruth(false)
    }
    await new Promise((r) => setTimeout(r, TICK_MS))
  }
  await Promise.all(inFlight)
  bar?.finish()
  // the last labels keep their delay, as the earlier ones did
  while (due.length > 0) {
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(GROUND_TRUTH_EVERY_MS, due[0].at - Date.now()))))
    await postTruth(false)
  }
  latencies.sort((a, b) => a - b)
  summary.latencyMs = {
    p50: latencies.length ? Math.round(latencies[Math.floor(latencies.length * 0.5)] * 10) / 10 : null,
    p99: latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)] * 10) / 10 : null,
  }
  return summary
}

/**
 * Fail before sending anything when the run could only fail: an unreachable gateway, a model it
 * does not serve, or no token that may post ground truth (the labels are the point of the run).
 */
async function preflight(o: SimulateOptions, headers: Record<string, string>): Promise<void> {
  const model = await fetch(`${o.url}/v2/models/${encodeURIComponent(o.model)}`).catch(() => null)
  if (model === null) throw new SimulateError(`cannot reach the gateway at ${o.url}; start it with npm start, or pass --url`)
  if (model.status === 404) throw new SimulateError(await failureReason(model))
  // an empty batch changes nothing; it only asks whether this caller may post labels
  const probe = await fetch(`${o.url}/v1/models/${encodeURIComponent(o.model)}/ground-truth`, { method: 'POST', headers, body: '[]' })
  if (probe.status === 401 || probe.status === 403) {
    throw new SimulateError(`posting ground truth needs a token with the predictor or admin role (${await failureReason(probe)}); ` +
      'create one with switchyard token new --name me --role admin, then set SWITCHYARD_TOKEN or pass --token')
  }
  await probe.arrayBuffer()
}

/** "404 MODEL_NOT_FOUND: model 'x' is not served ...", from the gateway's error body. */
async function failureReason(res: Response): Promise<string> {
  const text = await res.text()
  try {
    const body = JSON.parse(text) as { error?: string; code?: string }
    return `${res.status} ${body.code ?? ''}: ${body.error ?? text}`.slice(0, 300)
  } catch {
    return `${res.status}: ${text.slice(0, 200)}`
  }
}

function count(reasons: Record<string, number>, reason: string, n = 1): void {
  reasons[reason] = (reasons[reason] ?? 0) + n
}

/** The route's sticky key (GET /admin/routes), so that simulated customers stay on their version. */
async function stickyKey(o: SimulateOptions, headers: Record<string, string>): Promise<{ kind: 'header' | 'cookie' | 'field'; name: string } | null> {
  const res = await fetch(`${o.url}/admin/routes`, { headers }).catch(() => null)
  if (res === null) throw new Error(`cannot reach the gateway at ${o.url}; start it with npm start`)
  if (res.status !== 200) return null
  const body = (await res.json()) as { routes?: Record<string, { config?: { sticky?: string } }> }
  const sticky = body.routes?.[o.model]?.config?.sticky
  if (sticky === undefined) return null
  const [kind, name] = sticky.split(':') as ['header' | 'cookie' | 'field', string]
  return { kind, name: kind === 'header' ? name.toLowerCase() : name }
}

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text)
  if (m === null) throw new Error(`must be a duration such as 90s, 5m or 500ms, got '${text}'`)
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
}

const positiveInteger = (max: number) => (text: string): number => {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`must be an integer from 1 to ${max}, got '${text}'`)
  return n
}

interface SimulateValues {
  model: string
  url: string
  rps: number
  duration: number
  groundTruthDelay: number
  customers: number
  seed?: number
  drift?: boolean
  token?: string
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('replay sample credit-default rows against a running gateway as routed predictions, then post their true labels')
    .requiredOption('--model <model>', 'the model to call (its versions take the credit-default features)')
    .option('--url <url>', 'the gateway (SWITCHYARD_URL)', process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:8080')
    .option('--rps <n>', 'requests a second', reader(positiveInteger(10_000)), 20)
    .option('--duration <time>', 'how long to send: 90s, 5m, 500ms', reader(parseDuration), 60_000)
    .option('--ground-truth-delay <time>', 'post each true label this long after its prediction', reader(parseDuration), 10_000)
    .option('--customers <n>', 'distinct sticky keys', reader(positiveInteger(1_000_000)), 500)
    .option('--seed <n>', 'the data\'s seed (default: the current time)', reader(positiveInteger(Number.MAX_SAFE_INTEGER)))
    .option('--drift', 'shift the rows away from the training data (younger clients, lower limits, higher bills), so that drift appears')
    .option('--token <token>', 'bearer token with the predictor or admin role (SWITCHYARD_TOKEN)')
    .action(exitWith(async (values: SimulateValues) => {
      const options: SimulateOptions = {
        url: values.url.replace(/\/$/, ''), model: values.model, rps: values.rps, customers: values.customers,
        durationMs: values.duration, groundTruthDelayMs: values.groundTruthDelay,
        seed: values.seed ?? Date.now() % 1_000_000_007, drift: values.drift === true,
        token: values.token ?? process.env.SWITCHYARD_TOKEN, out: process.stderr,
      }
      let s: SimulateSummary
      try {
        s = await simulate(options)
      } catch (err) {
        if (!(err instanceof SimulateError)) throw err
        process.stderr.write(`switchyard simulate: ${err.message}\n`)
        return 1
      }
      const versions = Object.entries(s.byVersion).map(([v, n]) => `${v} ${n}`).join(', ')
      process.stdout.write(`sent ${s.sent}, answered ${s.answered} (${versions}), failed ${s.failed}; latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms\n` +
        `ground truth posted ${s.groundTruthPosted}, joined ${s.groundTruthJoined}\n`)
      for (const [reason, n] of Object.entries(s.failures)) process.stderr.write(`failed ${n}: ${reason}\n`)
      for (const [reason, n] of Object.entries(s.groundTruthFailures)) process.stderr.write(`ground truth not posted for ${n}: ${reason}\n`)
      const isClean = s.failed === 0 && Object.keys(s.groundTruthFailures).length === 0
      if (isClean) process.stdout.write(`see ${options.url}/v1/models/${options.model}/compare and ${options.url}/dashboard\n`)
      return isClean ? 0 : 1
    }))
}
