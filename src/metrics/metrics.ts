/**
 * Every metric the gateway exports, declared in one place (switchyard_<subsystem>_<thing>_<unit>,
 * `_total` for counters, bounded label sets: never ids). One registry per gateway, so that
 * several gateways in one process (tests) do not share counts.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'

export interface InferenceLogFigures {
  readonly queueDepth: number
  readonly written: number
  readonly spilled: number
  readonly replayed: number
  readonly dropped: number
  readonly rejected: number
  readonly storeUp: boolean
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
    help: 'When routes.yaml was last applied, in Unix seconds',
    registers: [this.registry],
  })

  readonly configRevision = new Gauge({
    name: 'switchyard_config_revision',
    help: 'The routes.yaml revision number in force',
    registers: [this.registry],
  })

  readonly configLastRejectionProblems = new Gauge({
    name: 'switchyard_config_last_rejection_problems',
    help: 'Problems found in the last rejected routes.yaml; 0 once a later one is applied',
    registers: [this.registry],
  })

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

  /** Read at scrape time from the inference log (its writer worker reports every half second). */
  inferenceLogSource: () => InferenceLogFigures = () => ({ queueDepth: 0, written: 0, spilled: 0, replayed: 0, dropped: 0, rejected: 0, storeUp: false })

  constructor() {
    collectDefaultMetrics({ register: this.registry })
    const figures = () => this.inferenceLogSource()
    const counter = (name: string, help: string, read: (f: InferenceLogFigures) => number) =>
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(read(figures())) } })
    new Gauge({ name: 'switchyard_inference_log_queue_depth', help: 'Inference records waiting to be written (request thread and writer memory)', registers: [this.registry], collect() { this.set(figures().queueDepth) } })
    new Gauge({ name: 'switchyard_inference_log_store_up', help: '1 when the inference log store accepts writes, else 0', registers: [this.registry], collect() { this.set(figures().storeUp ? 1 : 0) } })
    counter('switchyard_inference_log_written_total', 'Inference records written to the store', (f) => f.written)
    counter('switchyard_inference_log_spilled_total', 'Inference records written to the local spill file while the store was unreachable', (f) => f.spilled)
    counter('switchyard_inference_log_replayed_total', 'Inference records delivered from spill files once the store was back', (f) => f.replayed)
    counter('switchyard_inference_log_dropped_total', 'Inference records lost: the store was unreachable and the spill file could not be written', (f) => f.dropped)
    counter('switchyard_inference_log_rejected_total', 'Inference records the store refused for their content, kept in the dead-letter file', (f) => f.rejected)
  }
}
