/**
 * Warming a new session: a first run, so that the first real request does not pay for
 * allocation, then a timed run of a typical batch, which mirror placement reads
 * (mirrors/mirrors.ts). Best effort (issue #16): a model that checks its input values (a sample
 * rate that must be 8000 or 16000) refuses the synthetic zeros, yet serves real requests, so a
 * failed warm-up is reported, never a failed version. version.yaml's `warmup.inputs` give
 * data it accepts, as Triton's model_warmup does.
 */
import ort from 'onnxruntime-node'
import { datatypeInfo } from './datatypes.js'
import type { WarmupTensor } from '../registry/metadata.js'
import { elementCount } from './tensors.js'
import type { TensorSpec } from './tensors.js'

export interface WarmUp {
  /** As the catalog shows it: 'ok', 'failed: <why>' or 'skipped: <why>'. */
  readonly outcome: string
  /** The fastest of three warm runs of TIMED_ROWS rows (of one batch for a fixed shape), in ms; null when not timed. */
  readonly batchRunMs: number | null
}

type Feeds = Record<string, ort.Tensor>

const TIMED_ROWS = 32 // a coalesced run under load holds about this many requests (bench: 20-40)

/**
 * version.yaml's warm-up inputs as tensors of the model's types; throws an Error naming the
 * problem when they do not fit the model (every input given, none unknown, the fixed
 * dimensions as the model has them, values of the input's kind).
 */
export function warmupFeeds(given: Readonly<Record<string, WarmupTensor>>, inputs: readonly TensorSpec[]): Feeds {
  const names = inputs.map((i) => i.name).join(', ')
  for (const name of Object.keys(given)) {
    if (!inputs.some((i) => i.name === name)) throw new Error(`version.yaml warmup.inputs names '${name}', which is not an input of model.onnx (inputs: ${names})`)
  }
  const feeds: Feeds = {}
  for (const input of inputs) {
    const tensor = Object.hasOwn(given, input.name) ? given[input.name] : undefined
    if (tensor === undefined) throw new Error(`version.yaml warmup.inputs has no '${input.name}'; give every input of model.onnx (inputs: ${names})`)
    const where = `version.yaml warmup.inputs.${input.name}`
    if (tensor.shape.length !== input.shape.length || input.shape.some((d, i) => d !== -1 && d !== tensor.shape[i])) {
      throw new Error(`${where} has shape [${tensor.shape.join(', ')}]; model.onnx's input '${input.name}' is [${input.shape.join(', ')}]`)
    }
    feeds[input.name] = tensorOf(where, input, tensor)
  }
  return feeds
}

function tensorOf(where: string, input: TensorSpec, tensor: WarmupTensor): ort.Tensor {
  const info = input.datatype === null ? undefined : datatypeInfo(input.datatype)
  if (info === undefined) throw new Error(`${where}: model.onnx's input '${input.name}' is ${input.ortType}, which warm-up data cannot give; leave warmup out`)
  const wrong = (kind: string) => new Error(`${where}: every value must be ${kind} for a ${input.ortType} input`)
  if (info.allocate === null) {
    if (!tensor.data.every((v) => typeof v === 'string')) throw wrong('a string')
    return new ort.Tensor('string', tensor.data as string[], tensor.shape)
  }
  const data = info.allocate(tensor.data.length)
  tensor.data.forEach((v, i) => {
    const n = typeof v === 'boolean' && info.kind === 'bool' ? Number(v) : v
    if (typeof n !== 'number') throw wrong(info.kind === 'bool' ? 'true, false, 0 or 1' : 'a number')
    if (info.kind !== 'float' && (!Number.isInteger(n) || n < info.min || n > info.max)) throw wrong(`an integer from ${info.min} to ${info.max}`)
    data[i] = info.kind === 'bigint' ? BigInt(n) : n
  })
  return new ort.Tensor(info.ortType, data as ort.Tensor.DataType, tensor.shape)
}

/**
 * Warm the session with `given` (version.yaml's inputs) or, without them, one row of zeros;
 * then time a batch of TIMED_ROWS rows (the given rows repeated) when the model is batchable.
 */
export async function warmUp(session: ort.InferenceSession, inputs: readonly TensorSpec[], isBatchable: boolean, given: Feeds | null): Promise<WarmUp> {
  const first = given ?? zeros(inputs, 1)
  if (typeof first === 'string') return { outcome: `skipped: ${first}`, batchRunMs: null }
  try {
    await session.run(first)
  } catch (err) {
    const why = given === null ? 'on synthetic zeros; give version.yaml warmup.inputs the model accepts' : 'on version.yaml warmup.inputs'
    return { outcome: `failed: ${firstLine(err)} (${why})`, batchRunMs: null }
  }
  const batch = isBatchable ? (given === null ? zeros(inputs, TIMED_ROWS) as Feeds : repeatRows(given, TIMED_ROWS)) : first
  return { outcome: 'ok', batchRunMs: batch === null ? null : await fastestRun(session, batch) }
}

async function fastestRun(session: ort.InferenceSession, feeds: Feeds): Promise<number | null> {
  let fastest = Infinity
  try {
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      await session.run(feeds)
      fastest = Math.min(fastest, performance.now() - started)
      if (fastest > 100) break // a run this slow needs no second look
    }
  } catch {
    return null // a batch this model refuses: its requests run alone anyway (run-coalescer.ts)
  }
  return fastest
}

/** `rows` rows of zeros for every input, or why none can be made. */
function zeros(inputs: readonly TensorSpec[], rows: number): Feeds | string {
  const feeds: Feeds = {}
  for (const input of inputs) {
    const info = input.datatype === null ? undefined : datatypeInfo(input.datatype)
    if (info === undefined) return `input '${input.name}' is ${input.ortType}, of which no synthetic sample is made`
    const dims = input.shape.map((d, i) => (d === -1 ? (i === 0 ? rows : 1) : d))
    const n = elementCount(dims)
    feeds[input.name] = info.allocate === null
      ? new ort.Tensor('string', new Array<string>(n).fill(''), dims)
      : new ort.Tensor(info.ortType, info.allocate(n) as ort.Tensor.DataType, dims)
  }
  return feeds
}

/** The given rows repeated to `rows` rows; null when the inputs do not all have the same row count. */
function repeatRows(given: Feeds, rows: number): Feeds | null {
  const tensors = Object.entries(given)
  const have = tensors[0]?.[1].dims[0]
  if (have === undefined || have === 0 || tensors.some(([, t]) => t.dims[0] !== have)) return null
  const feeds: Feeds = {}
  for (const [name, t] of tensors) {
    const rowSize = t.data.length / have
    const source = t.data as ArrayLike<unknown>
    const data = t.type === 'string' ? new Array<string>(rows * rowSize) : new (source.constructor as new (n: number) => { [i: number]: unknown })(rows * rowSize)
    for (let i = 0; i < rows * rowSize; i++) (data as { [i: number]: unknown })[i] = source[i % (have * rowSize)]
    feeds[name] = new ort.Tensor(t.type, data as ort.Tensor.DataType, [rows, ...t.dims.slice(1)])
  }
  return feeds
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]
}
