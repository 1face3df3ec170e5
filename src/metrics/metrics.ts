/**
 * Every metric the gateway exports, declared in one place (switchyard_<subsystem>_<thing>_<unit>,
 * `_total` for counters, bounded label sets: never ids). One registry per gateway, so that
 * several gateways in one process (tests) do not share counts. Under --workers the primary sums
 * every worker's figures (cli/cluster.ts); a figure that describes the configuration rather than
 * work done says how it is combined instead (`aggregator`).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import { ServingMetrics } from './serving-metrics.js'

/** What the scrape-time metrics read; index.ts points these at the pool, the routes and the mirrors. */
export interface MetricSources {
  mirrors(): readonly { model: string; version: string; role: string; compared: number; agreed: number }[]
  routeWeights(): readonly { model: string; version: string; percent: number }[]
  canaries(): readonly { model: string; percent: number; status: string }[]
  versionStates(): readonly { model: string; version: string; state: string }[]
}

const NO_SOURCES: MetricSources = { mirrors: () => [], routeWeights: () => [], canaries: () => [], versionStates: () => [] }
export const VERSION_STATES = ['loading', 'ready', 'failed', 'draining', 'unloading', 'unloaded'] as const

export interface InferenceLogFigures {
  readonly queueDepth: number
  readonly written: number
  readonly spilled: number
  readonly replayed: number
  readonly dropped: number
  readonly rejected: number
  readonly storeUp: boolean
  readonly journalFailures: number
  readonly writerBacklogBytes: number
}

export class GatewayMetrics {
  readonly registry = new Registry()

  readonly configReloads = new Counter({
    name: 'switchyard_config_reloads_total',
    help: 'routes.yaml reload attempts by result (applied, unchanged, rejected)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  })

  readonly configLastSuccess = new Gauge({
    name: 'switchyard_config_last_success_timestamp_seconds',
    aggregator: 'max',
    help: 'When routes.yaml was last applied, in Unix seconds',
    registers: [this.registry],
  })

  readonly configRevision = new Gauge({
    name: 'switchyard_config_revision',
    aggregator: 'max',
    help: 'The routes.yaml revision number in force',
    registers: [this.registry],
  })

  readonly configLastRejectionProblems = new Gauge({
    name: 'switchyard_config_last_rejection_problems',
    aggregator: 'max',
    help: 'Problems found in the last rejected routes.yaml; 0 once a later one is applied',
    registers: [this.registry],
  })

  /** A routes.yaml revision in force: at start, and after each reload that applied one. */
  routesApplied(revision: number): void {
    this.configRevision.set(revision)
    this.configLastSuccess.set(Date.now() / 1000)
    this.configLastRejectionProblems.set(0)
  }

  /** After every reload attempt; `problems` of a rejected file. */
  routesReloaded(result: 'applied' | 'unchanged' | 'rejected', revision: number, problems: number): void {
    this.configReloads.inc({ result })
    if (result === 'applied') this.routesApplied(revision)
    if (result === 'rejected') this.configLastRejectionProblems.set(problems)
  }

  /** Read at scrape time; the mirror runner counts its own drops. */
  mirrorsDroppedSource: () => number = () => 0

  readonly mirrorsDropped = (() => {
    const metrics = this
    return new Gauge({
      name: 'switchyard_mirror_dropped',
      help: 'Shadow and challenger runs dropped since start because too many were in flight',
      registers: [this.registry],
      collect() {
        this.set(metrics.mirrorsDroppedSource())
      },
    })
  })()

  /** Read at scrape time from the connection tracker (http/connections.ts). */
  connectionsSource: () => { open: number; refused: number; evicted: number } = () => ({ open: 0, refused: 0, evicted: 0 })

  readonly connectionsOpen = (() => {
    const metrics = this
    return new Gauge({
      name: 'switchyard_http_connections',
      help: 'Client connections open now',
      registers: [this.registry],
      collect() {
        this.set(metrics.connectionsSource().open)
      },
    })
  })()

  readonly connectionsRefused = this.#countedAtScrape('switchyard_http_connections_refused_total', 'Connections closed on arrival because --max-connections were open and all busy', () => this.connectionsSource().refused)
  readonly connectionsEvicted = this.#countedAtScrape('switchyard_http_connections_evicted_total', 'Silent or idle connections closed to make room for a new one at --max-connections', () => this.connectionsSource().evicted)

  /** A counter whose running total another part keeps: each scrape adds what it grew by since the last. */
  #countedAtScrape(name: string, help: string, total: () => number): Counter {
    let seen = 0
    return new Counter({
      name, help, registers: [this.registry],
      collect() {
        const now = total()
        if (now > seen) this.inc(now - seen)
        seen = now
      },
    })
  }

  /** Read at scrape time from the inference log (its store worker reports every half second). */
  inferenceLogSource: () => InferenceLogFigures = () => ({ queueDepth: 0, written: 0, spilled: 0, replayed: 0, dropped: 0, rejected: 0, storeUp: false, journalFailures: 0, writerBacklogBytes: 0 })

  /** Read at scrape time: PSI per feature of each version with a reference profile, refreshed each minute (drift/drift-monitor.ts). */
  driftSource: () => readonly { model: string; version: string; feature: string; psi: number }[] = () => []

  readonly serving = new ServingMetrics(this.registry)

  readonly httpErrors = new Counter({
    name: 'switchyard_http_errors_total',
    help: 'Error answers of the data plane by status and error code',
    labelNames: ['status', 'code'] as const,
    registers: [this.registry],
  })

  readonly grpcErrors = new Counter({
    name: 'switchyard_grpc_errors_total',
    help: 'Error answers of the gRPC service by gRPC status and error code',
    labelNames: ['status', 'code'] as const,
    registers: [this.registry],
  })

  sources: MetricSources = NO_SOURCES

  /** The text /metrics answers: this registry's, or under --workers every worker's summed (cli/cluster.ts). */
  exposition: () => Promise<string> = () => this.registry.metrics()

  constructor() {
    collectDefaultMetrics({ register: this.registry })
    const sources = () => this.sources
    const mirrorCounter = (name: string, help: string, read: (m: ReturnType<MetricSources['mirrors']>[number]) => number) =>
      new Counter({
        name, help, labelNames: ['model', 'version', 'role'], registers: [this.registry],
        collect() {
          this.reset()
          for (const m of sources().mirrors()) this.inc({ model: m.model, version: m.version, role: m.role }, read(m))
        },
      })
    mirrorCounter('switchyard_mirror_compared_rows_total', 'Rows a shadow or challenger scored and compared with the primary', (m) => m.compared)
    mirrorCounter('switchyard_mirror_agreed_rows_total', 'Rows on which a shadow or challenger agreed with the primary (the deciding output)', (m) => m.agreed)
    new Gauge({
      name: 'switchyard_mirror_agreement_ratio', aggregator: 'average', help: 'Agreed rows / compared rows of a shadow or challenger since start',
      labelNames: ['model', 'version', 'role'], registers: [this.registry],
      collect() {
        this.reset()
        for (const m of sources().mirrors()) if (m.compared > 0) this.set({ model: m.model, version: m.version, role: m.role }, m.agreed / m.compared)
      },
    })
    new Gauge({
      name: 'switchyard_route_weight_percent', aggregator: 'max', help: 'The share of routed traffic each version is configured to take now (split, champion, or the canary step)',
      labelNames: ['model', 'version'], registers: [this.registry],
      collect() {
        this.reset()
        for (const w of sources().routeWeights()) this.set({ model: w.model, version: w.version }, w.percent)
      },
    })
    new Gauge({
      name: 'switchyard_canary_step_percent', aggregator: 'max', help: "The canary candidate's current share of traffic, in percent (0 after a rollback)",
      labelNames: ['model', 'status'], registers: [this.registry],
      collect() {
        this.reset()
        for (const c of sources().canaries()) this.set({ model: c.model, status: c.status }, c.percent)
      },
    })
    new Gauge({
      name: 'switchyard_model_version_state', aggregator: 'max', help: '1 for the state each version is in (loading, ready, failed, draining, unloading, unloaded), 0 for the others',
      labelNames: ['model', 'version', 'state'], registers: [this.registry],
      collect() {
        this.reset()
        for (const v of sources().versionStates()) for (const state of VERSION_STATES) this.set({ model: v.model, version: v.version, state }, v.state === state ? 1 : 0)
      },
    })
    const drift = () => this.driftSource()
    new Gauge({
      name: 'switchyard_drift_psi', aggregator: 'max', help: "Population stability index of each feature's (and the score's) last hour against the version's reference profile, refreshed each minute",
      labelNames: ['model', 'version', 'feature'], registers: [this.registry],
      collect() {
        this.reset()
        for (const d of drift()) this.set({ model: d.model, version: d.version, feature: d.feature }, d.psi)
      },
    })
    const figures = () => this.inferenceLogSource()
    const counter = (name: string, help: string, read: (f: InferenceLogFigures) => number) =>
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(read(figures())) } })
    new Gauge({ name: 'switchyard_inference_log_queue_depth', help: 'Inference records waiting to be written (on the request thread, on their way to the writer in memory or in the journal, and in its memory)', registers: [this.registry], collect() { this.set(figures().queueDepth) } })
    new Gauge({ name: 'switchyard_inference_log_store_up', aggregator: 'min', help: '1 when the inference log store accepts writes, else 0', registers: [this.registry], collect() { this.set(figures().storeUp ? 1 : 0) } })
    counter('switchyard_inference_log_written_total', 'Inference records written to the store', (f) => f.written)
    counter('switchyard_inference_log_spilled_total', 'Inference records written to the local spill file while the store was unreachable', (f) => f.spilled)
    counter('switchyard_inference_log_replayed_total', 'Inference records delivered from spill files once the store was back', (f) => f.replayed)
    counter('switchyard_inference_log_dropped_total', 'Inference records lost: the store was unreachable and the spill file could not be written', (f) => f.dropped)
    counter('switchyard_inference_log_rejected_total', 'Inference records the store refused for their content, kept in the dead-letter file', (f) => f.rejected)
    counter('switchyard_inference_log_journal_failures_total', 'Chunks of inference records the journal could not take (they were delivered from memory; a crash before that would have lost them)', (f) => f.journalFailures)
    new Gauge({ name: 'switchyard_inference_log_writer_backlog_bytes', help: 'Bytes of inference records handed to the writer and not yet taken in (beyond 64 MiB the writer reads them from the journal; beyond 256 MiB it is hurried)', registers: [this.registry], collect() { this.set(figures().writerBacklogBytes) } })
  }
}
