/**
 * switchyard simulate: replays rows of the synthetic credit-default data set against a
 * running gateway as routed predictions, each with an inference id and a sticky key, and
 * after a delay posts their true labels as ground truth, so that a newcomer watches a
 * champion-challenger comparison come alive (GET /v1/models/{model}/compare, /dashboard).
 */
import { parseArgs } from 'node:util'
import { creditRowGenerator, CREDIT_FEATURES } from '../sample-data/credit-default.js'
import { ProgressBar } from './progress.js'

const HELP = `usage: switchyard simulate --model M [options]

  --model M               the model to call (its versions take the credit-default features)
  --url URL               the gateway (default http://127.0.0.1:8080)
  --rps N                 requests a second (default 20)
  --duration D            how long to send: 90s, 5m or seconds (default 60s)
  --ground-truth-delay S  post each true label this long after its prediction: 30s, 2m (default 10s)
  --customers N           distinct sticky keys (default 500)
  --seed N                the data's seed (default: the current time)
  --token T               bearer token, when the gateway asks for one`

export interface SimulateOptions {
  readonly url: string
  readonly model: string
  readonly rps: number
  readonly durationMs: number
  readonly groundTruthDelayMs: number
  readonly customers: number
  readonly seed: number
  readonly token?: string
  /** Progress and summary go here (stderr for the CLI). */
  readonly out: NodeJS.WriteStream | null
}

export interface SimulateSummary {
  sent: number
  answered: number
  failed: number
  byVersion: Record<string, number>
  groundTruthPosted: number
  groundTruthJoined: number
  latencyMs: { p50: number | null; p99: number | null }
}

const GROUND_TRUTH_EVERY_MS = 500
const TICK_MS = 20

export async function simulate(o: SimulateOptions): Promise<SimulateSummary> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) }
  const sticky = await stickyKey(o, headers)
  const rows = creditRowGenerator(o.seed)
  const run = o.seed.toString(36)
  const summary: SimulateSummary = { sent: 0, answered: 0, failed: 0, byVersion: {}, groundTruthPosted: 0, groundTruthJoined: 0, latencyMs: { p50: null, p99: null } }
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
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`status ${res.status}`)
        latencies.push(performance.now() - started)
        summary.answered++
        const version = res.headers.get('x-model-version') ?? '?'
        summary.byVersion[version] = (summary.byVersion[version] ?? 0) + 1
        due.push({ at: Date.now() + o.groundTruthDelayMs, id, label: row.default })
      })
      .catch(() => {
        summary.failed++
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
    })
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

export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text)
  if (m === null) throw new Error(`${flag} must be a duration such as 90s, 5m or 500ms, got '${text}'`)
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
}

export async function simulateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' }, url: { type: 'string', default: 'http://127.0.0.1:8080' }, rps: { type: 'string', default: '20' },
      duration: { type: 'string', default: '60s' }, 'ground-truth-delay': { type: 'string', default: '10s' }, customers: { type: 'string', default: '500' },
      seed: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  let options: SimulateOptions
  try {
    if (values.model === undefined) throw new Error('--model is required')
    const rps = Number(values.rps)
    const customers = Number(values.customers)
    if (!(rps > 0 && rps <= 10_000)) throw new Error('--rps must be a number from 1 to 10000')
    if (!Number.isSafeInteger(customers) || customers < 1) throw new Error('--customers must be a positive integer')
    options = {
      url: values.url!.replace(/\/$/, ''), model: values.model, rps, customers,
      durationMs: parseDuration(values.duration!, '--duration'),
      groundTruthDelayMs: parseDuration(values['ground-truth-delay']!, '--ground-truth-delay'),
      seed: values.seed === undefined ? Date.now() % 1_000_000_007 : Number(values.seed),
      token: values.token ?? process.env.SWITCHYARD_TOKEN, out: process.stderr,
    }
  } catch (err) {
    process.stderr.write(`switchyard simulate: ${(err as Error).message}\n\n${HELP}\n`)
    return 2
  }
  const s = await simulate(options)
  const versions = Object.entries(s.byVersion).map(([v, n]) => `${v} ${n}`).join(', ')
  process.stdout.write(`sent ${s.sent}, answered ${s.answered} (${versions}), failed ${s.failed}; latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms\n` +
    `ground truth posted ${s.groundTruthPosted}, joined ${s.groundTruthJoined}\n` +
    `see ${options.url}/v1/models/${options.model}/compare and ${options.url}/dashboard\n`)
  return s.failed === 0 ? 0 : 1
}
