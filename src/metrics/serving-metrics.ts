/**
 * Per-version serving metrics, observed on the request path: inferences by outcome, end-to-end
 * latency and model-run latency, by model, version, route and role. prom-client looks label
 * values up by hashing them on every call; here each label combination is bound once and
 * kept, so an observation is two array lookups and an increment.
 *
 * Label values are bounded: model and version names from the repository, route is the
 * routes.yaml route (the model's name), `label:<label>` or `direct`, role is one of four,
 * outcome is `ok` or an error code of the catalogue. Never an id.
 */
import { Counter, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] // seconds

interface Bound {
  readonly ok: Counter.Internal
  readonly request: Histogram.Internal<string>
  readonly run: Histogram.Internal<string>
}

export class ServingMetrics {
  readonly #inferences: Counter<string>
  readonly #request: Histogram<string>
  readonly #run: Histogram<string>
  readonly #bound = new Map<string, Bound>()

  constructor(registry: Registry) {
    this.#inferences = new Counter({
      name: 'switchyard_inferences_total',
      help: 'Inferences by model, version, route, role and outcome (ok, or the error code)',
      labelNames: ['model', 'version', 'route', 'role', 'outcome'],
      registers: [registry],
    })
    this.#request = new Histogram({
      name: 'switchyard_request_duration_seconds',
      help: 'From the request arriving to its answer being written (primary and direct answers)',
      labelNames: ['model', 'version', 'route', 'role'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    })
    this.#run = new Histogram({
      name: 'switchyard_model_run_duration_seconds',
      help: 'The model run alone (for shadows and challengers, on the mirror worker), waiting for a shared run included',
      labelNames: ['model', 'version', 'route', 'role'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    })
  }

  #for(model: string, version: string, route: string, role: string): Bound {
    const key = `${model}\u0000${version}\u0000${route}\u0000${role}`
    let bound = this.#bound.get(key)
    if (bound === undefined) {
      const labels = { model, version, route, role }
      bound = { ok: this.#inferences.labels({ ...labels, outcome: 'ok' }), request: this.#request.labels(labels), run: this.#run.labels(labels) }
      this.#bound.set(key, bound)
    }
    return bound
  }

  /** An answered inference: `requestSeconds` null for shadows and challengers (they answer nobody). */
  answered(model: string, version: string, route: string, role: string, requestSeconds: number | null, runSeconds: number): void {
    const bound = this.#for(model, version, route, role)
    bound.ok.inc()
    bound.run.observe(runSeconds)
    if (requestSeconds !== null) bound.request.observe(requestSeconds)
  }

  failed(model: string, version: string, route: string, role: string, code: string): void {
    this.#inferences.inc({ model, version, route, role, outcome: code })
  }
}
