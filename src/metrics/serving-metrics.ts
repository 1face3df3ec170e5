/**
 * Per-version serving metrics, observed on the request path: inferences by outcome, end-to-end
 * latency and model-run latency, by model, version, route and role. Each label combination is
 * bound once (bound-series.ts) and found again through nested maps of the names the caller
 * already holds, so an observation builds no string and hashes nothing.
 *
 * Label values are bounded: model and version names from the repository, route is the
 * routes.yaml route (the model's name), `label:<label>` or `direct`, role is one of four,
 * outcome is `ok` or an error code of the catalogue. Never an id.
 */
import type { Registry } from 'prom-client'
import { BoundCounter, BoundHistogram } from './bound-series.js'
import type { CounterSeries, HistogramSeries } from './bound-series.js'

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] // seconds
const LABELS = ['model', 'version', 'route', 'role']

interface Bound {
  readonly ok: CounterSeries
  readonly request: HistogramSeries
  readonly run: HistogramSeries
}

type Nested<T> = Map<string, T>

export class ServingMetrics {
  readonly #inferences: BoundCounter
  readonly #request: BoundHistogram
  readonly #run: BoundHistogram
  /** model -> version -> route -> role -> series */
  readonly #bound: Nested<Nested<Nested<Nested<Bound>>>> = new Map()

  constructor(registry: Registry) {
    this.#inferences = new BoundCounter({
      name: 'switchyard_inferences_total',
      help: 'Inferences by model, version, route, role and outcome (ok, or the error code)',
      labelNames: [...LABELS, 'outcome'],
      registers: [registry],
    })
    this.#request = new BoundHistogram({
      name: 'switchyard_request_duration_seconds',
      help: 'From the request arriving to its answer being written (primary and direct answers)',
      labelNames: LABELS,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    })
    this.#run = new BoundHistogram({
      name: 'switchyard_model_run_duration_seconds',
      help: 'The model run alone (for shadows and challengers, on the mirror worker), waiting for a shared run included',
      labelNames: LABELS,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    })
  }

  #for(model: string, version: string, route: string, role: string): Bound {
    const byRole = child(child(child(this.#bound, model), version), route)
    let bound = byRole.get(role)
    if (bound === undefined) {
      bound = {
        ok: this.#inferences.labels(model, version, route, role, 'ok'),
        request: this.#request.labels(model, version, route, role),
        run: this.#run.labels(model, version, route, role),
      }
      byRole.set(role, bound)
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
    this.#inferences.labels(model, version, route, role, code).inc()
  }
}

function child<T>(map: Nested<Nested<T>>, key: string): Nested<T> {
  let found = map.get(key)
  if (found === undefined) {
    found = new Map()
    map.set(key, found)
  }
  return found
}
