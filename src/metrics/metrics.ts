/**
 * Every metric the gateway exports, declared in one place (switchyard_<subsystem>_<thing>_<unit>,
 * `_total` for counters, bounded label sets: never ids). One registry per gateway, so that
 * several gateways in one process (tests) do not share counts.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'

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

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }
}
