/**
 * A remote version: another server speaking the Open Inference Protocol, named by
 * `upstream:` in version.yaml (e.g. http://host:8000/v2/models/credit-risk/versions/4).
 * It gets the same routing, mirroring and recording as a local version because it runs
 * through the same `run(feeds, rows)` contract: requests are validated here against the
 * upstream's own metadata, sent as V2 JSON with a timeout, and its outputs decoded.
 */
import { datatypeInfo } from './datatypes.js'
import type { RunCallback } from './runner.js'
import type { Feed, OutputTensor, RunOutputs, TensorData, TensorSpec } from './tensors.js'

export interface RemoteMetadata {
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
}

interface V2Tensor {
  name: string
  datatype: string
  shape: number[]
}

/** GET the upstream's model metadata: its inputs and outputs. */
/** `stop` aborts the request when the gateway stops: a stop never waits for an upstream that is slow to answer. */
export async function fetchRemoteMetadata(upstream: string, timeoutMs: number, stop?: AbortSignal): Promise<RemoteMetadata> {
  const timeout = AbortSignal.timeout(timeoutMs)
  const res = await fetch(upstream, { signal: stop === undefined ? timeout : AbortSignal.any([timeout, stop]) })
  if (!res.ok) throw new Error(`upstream ${upstream} answered ${res.status} to a metadata request`)
  const body = (await res.json()) as { inputs?: V2Tensor[]; outputs?: V2Tensor[] }
  if (!Array.isArray(body.inputs) || !Array.isArray(body.outputs)) throw new Error(`upstream ${upstream} metadata has no inputs and outputs`)
  const spec = (t: V2Tensor): TensorSpec => {
    const info = datatypeInfo(t.datatype)
    return { name: t.name, datatype: info?.datatype ?? null, ortType: info?.ortType ?? t.datatype, shape: t.shape.map((d) => (d >= 0 ? d : -1)) }
  }
  return { inputs: body.inputs.map(spec), outputs: body.outputs.map(spec) }
}

export class RemoteRunner {
  readonly #inferUrl: string
  readonly #timeoutMs: number
  readonly stats = { runs: 0, requests: 0 }
  inFlight = 0

  constructor(upstream: string, timeoutMs: number) {
    this.#inferUrl = `${upstream.replace(/\/$/, '')}/infer`
    this.#timeoutMs = timeoutMs
  }

  run(feeds: readonly Feed[], _rows: number, done: RunCallback): void {
    this.stats.requests++
    this.stats.runs++
    this.inFlight++
    this.#call(feeds).then((outputs) => done(null, outputs), (err: unknown) => done(err, null))
  }

  async #call(feeds: readonly Feed[]): Promise<RunOutputs> {
    try {
      const body = JSON.stringify({
        inputs: feeds.map((f) => ({
          name: f.name,
          shape: f.dims,
          datatype: this.#datatypeOf(f),
          data: Array.from(f.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? Number(v) : f.type === 'bool' ? v === 1 : v)),
        })),
      })
      const res = await fetch(this.#inferUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
      const text = await res.text()
      if (!res.ok) throw new Error(`upstream ${this.#inferUrl} answered ${res.status}: ${text.slice(0, 200)}`)
      return decodeOutputs(JSON.parse(text) as { outputs?: (V2Tensor & { data: unknown[] })[] })
    } finally {
      this.inFlight--
    }
  }

  #datatypeOf(feed: Feed): string {
    const map: Record<string, string> = { float32: 'FP32', float64: 'FP64', int32: 'INT32', int64: 'INT64', bool: 'BOOL', string: 'BYTES', uint8: 'UINT8', int8: 'INT8', uint16: 'UINT16', int16: 'INT16', uint32: 'UINT32', uint64: 'UINT64' }
    return map[feed.type] ?? 'FP32'
  }
}

function decodeOutputs(body: { outputs?: (V2Tensor & { data: unknown[] })[] }): RunOutputs {
  if (!Array.isArray(body.outputs)) throw new Error('upstream answer has no outputs')
  const out: Record<string, OutputTensor> = {}
  for (const t of body.outputs) {
    const info = datatypeInfo(t.datatype)
    const flat = (t.data as unknown[]).flat(Infinity)
    let data: TensorData
    if (info === undefined || info.allocate === null) data = flat.map(String)
    else if (info.kind === 'bigint') data = info.allocate(flat.length) as TensorData
    else data = info.allocate(flat.length) as TensorData
    if (!Array.isArray(data)) {
      const target = data as unknown as { [i: number]: unknown }
      flat.forEach((v, i) => (target[i] = info!.kind === 'bigint' ? BigInt(v as number) : info!.kind === 'bool' ? (v ? 1 : 0) : v))
    }
    out[t.name] = { type: info?.ortType ?? 'string', data, dims: t.shape }
  }
  return out
}
