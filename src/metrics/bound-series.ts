/**
 * A counter and a histogram for the request path, whose label sets are bound once: counting
 * is an add, observing a bucket search and three adds. prom-client's own label-bound children
 * validate and hash their label object on every call (the three observations of a request
 * cost the request thread about 1.5 µs: `node --cpu-prof` under `npm run bench`'s load).
 * These keep prom-client's registry and its exposition format: a registry only asks a metric
 * for `get()`, which these answer in the shape prom-client's own metrics do.
 */
import type { Registry } from 'prom-client'

/** What a prom-client registry reads from a metric at scrape time. */
interface MetricSnapshot {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'histogram'
  readonly values: readonly { metricName?: string; labels: Record<string, string | number>; value: number }[]
  readonly aggregator: 'sum'
}

interface SeriesOptions {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly string[]
  readonly registers: readonly Registry[]
}

type Labels = Record<string, string>

/** Label values to the series they name; a series is created the first time its values are bound. */
class SeriesTable<S> {
  readonly #labelNames: readonly string[]
  readonly #series = new Map<string, { labels: Labels; series: S }>()
  readonly #create: () => S

  constructor(labelNames: readonly string[], create: () => S) {
    this.#labelNames = labelNames
    this.#create = create
  }

  bind(values: readonly string[]): S {
    if (values.length !== this.#labelNames.length) throw new Error(`expected ${this.#labelNames.length} label values, got ${values.length}`)
    const key = values.join('\u0000')
    let entry = this.#series.get(key)
    if (entry === undefined) {
      const labels: Labels = {}
      this.#labelNames.forEach((name, i) => (labels[name] = values[i]))
      entry = { labels, series: this.#create() }
      this.#series.set(key, entry)
    }
    return entry.series
  }

  entries(): IterableIterator<{ labels: Labels; series: S }> {
    return this.#series.values()
  }
}

export interface CounterSeries {
  inc(by?: number): void
}

class CounterValue implements CounterSeries {
  value = 0
  /** A series is exported once counted, as with prom-client, not when it is bound. */
  isCounted = false
  inc(by = 1): void {
    this.value += by
    this.isCounted = true
  }

  reset(): void {
    this.value = 0
    this.isCounted = false
  }
}

export class BoundCounter {
  readonly name: string
  readonly help: string
  readonly type = 'counter'
  readonly #table: SeriesTable<CounterValue>

  constructor(options: SeriesOptions) {
    this.name = options.name
    this.help = options.help
    this.#table = new SeriesTable(options.labelNames, () => new CounterValue())
    for (const registry of options.registers) registry.registerMetric(this as never)
  }

  /** The series of these label values, in `labelNames` order; keep it and count on it. */
  labels(...values: string[]): CounterSeries {
    return this.#table.bind(values)
  }

  async get(): Promise<MetricSnapshot> {
    const values = [...this.#table.entries()].filter(({ series }) => series.isCounted).map(({ labels, series }) => ({ labels, value: series.value }))
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' }
  }

  /** Every series back to nothing counted (Registry.resetMetrics); the series handed out stay bound. */
  reset(): void {
    for (const { series } of this.#table.entries()) series.reset()
  }
}

export interface HistogramSeries {
  observe(value: number): void
}

class HistogramValue implements HistogramSeries {
  readonly #bounds: readonly number[]
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last one is above every bound. */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return // prom-client refuses these too; a latency never is
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    this.counts[i]++
    this.sum += value
    this.count++
  }

  reset(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
}

export class BoundHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly #bounds: readonly number[]
  readonly #table: SeriesTable<HistogramValue>

  constructor(options: SeriesOptions & { readonly buckets: readonly number[] }) {
    this.name = options.name
    this.help = options.help
    this.#bounds = [...options.buckets].sort((a, b) => a - b)
    this.#table = new SeriesTable(options.labelNames, () => new HistogramValue(this.#bounds))
    for (const registry of options.registers) registry.registerMetric(this as never)
  }

  labels(...values: string[]): HistogramSeries {
    return this.#table.bind(values)
  }

  /** Cumulative `_bucket` series with `le`, then `_sum` and `_count`, as prom-client's Histogram exports them. */
  async get(): Promise<MetricSnapshot> {
    const values: MetricSnapshot['values'][number][] = []
    for (const { labels, series } of this.#table.entries()) {
      if (series.count === 0) continue // exported once observed, as with prom-client
      let cumulative = 0
      this.#bounds.forEach((bound, i) => {
        cumulative += series.counts[i]
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...labels }, value: cumulative })
      })
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: series.count })
      values.push({ metricName: `${this.name}_sum`, labels, value: series.sum })
      values.push({ metricName: `${this.name}_count`, labels, value: series.count })
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' }
  }

  /** Every series back to zero (Registry.resetMetrics); the series handed out stay bound. */
  reset(): void {
    for (const { series } of this.#table.entries()) series.reset()
  }
}
