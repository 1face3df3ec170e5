/**
 * Stacking several requests' tensors along the first dimension (their rows) into one, and
 * taking one request's rows back out. The coalescer stacks feeds for one session.run and
 * splits the outputs; mirrors stack a turn's feeds for one message to their worker.
 */
import { joinedView } from './feed-slab.js'
import type { NumericData } from './feed-slab.js'
import { elementCount } from './tensors.js'
import type { Feed, OutputTensor, RunOutputs, TensorData } from './tensors.js'

/** Each part's feeds (same names, types and row shapes, in the same order) stacked: `totalRows` rows, fresh buffers. */
export function stackRows(parts: readonly (readonly Feed[])[], totalRows: number): Feed[] {
  return parts[0].map((first, i) => {
    const dims = [totalRows, ...first.dims.slice(1)]
    if (Array.isArray(first.data)) {
      const data: string[] = []
      for (const feeds of parts) for (const s of feeds[i].data as string[]) data.push(s)
      return { name: first.name, type: first.type, data, dims }
    }
    const ctor = first.data.constructor as new (n: number) => NumericData
    const data = new ctor(totalRows * elementCount(first.dims.slice(1)))
    let offset = 0
    for (const feeds of parts) {
      const part = feeds[i].data as NumericData
      ;(data as { set(a: ArrayLike<unknown>, o: number): void }).set(part, offset)
      offset += part.length
    }
    return { name: first.name, type: first.type, data, dims }
  })
}

/**
 * Each part's feeds (as for stackRows) as one view an input, when every part's data already
 * sits right after the previous part's in one buffer (feed-slab.ts): stackRows without the copy.
 * Null when any input's parts do not; the caller then stacks them.
 */
export function joinRows(parts: readonly (readonly Feed[])[], totalRows: number): Feed[] | null {
  const joined: Feed[] = []
  for (let i = 0; i < parts[0].length; i++) {
    const first = parts[0][i]
    if (Array.isArray(first.data)) return null
    const data = joinedView(parts.map((feeds) => feeds[i].data as NumericData))
    if (data === null) return null
    joined.push({ name: first.name, type: first.type, data, dims: [totalRows, ...first.dims.slice(1)] })
  }
  return joined
}

/** Rows firstRow..firstRow+rows of a tensor: a view on the same buffer (a copy for strings). */
export function takeRows<T extends { readonly data: TensorData; readonly dims: readonly number[] }>(tensor: T, firstRow: number, rows: number): T {
  const dims = tensor.dims.slice()
  dims[0] = rows
  const rowSize = rowElements(tensor.dims)
  const start = firstRow * rowSize
  const end = start + rows * rowSize
  const data = Array.isArray(tensor.data) ? tensor.data.slice(start, end) : tensor.data.subarray(start, end)
  return { ...tensor, data, dims }
}

/** Elements in one row: the product of every dimension after the first. */
function rowElements(dims: readonly number[]): number {
  let n = 1
  for (let d = 1; d < dims.length; d++) n *= dims[d]
  return n
}

/** Rows firstRow..firstRow+rows of every output: views, as takeRows. Outputs carry only type, data and dims. */
export function takeOutputRows(outputs: RunOutputs, firstRow: number, rows: number): RunOutputs {
  const taken: Record<string, OutputTensor> = {}
  for (const name in outputs) {
    const t = outputs[name]
    const rowSize = rowElements(t.dims)
    const start = firstRow * rowSize
    const end = start + rows * rowSize
    const dims = t.dims.length === 1 ? [rows] : [rows, ...t.dims.slice(1)]
    taken[name] = { type: t.type, data: Array.isArray(t.data) ? t.data.slice(start, end) : t.data.subarray(start, end), dims }
  }
  return taken
}

/** Tensors with the same layout (names, types, shape of a row) can be stacked into one. */
export function rowLayout(tensors: readonly Pick<Feed, 'name' | 'type' | 'dims'>[]): string {
  let layout = ''
  for (const t of tensors) layout += `${t.name}:${t.type}:${t.dims.slice(1).join('x')};`
  return layout
}

/** Outputs as a list of named tensors (the form stackRows takes), and back. */
export function namedOutputs(outputs: RunOutputs): Feed[] {
  return Object.keys(outputs).map((name) => ({ name, ...outputs[name] }))
}

export function outputsOf(named: readonly Feed[]): RunOutputs {
  const outputs: Record<string, OutputTensor> = {}
  for (const t of named) outputs[t.name] = { type: t.type, data: t.data, dims: t.dims }
  return outputs
}

/** The same tensors, in the same order, of the same types and row shapes: rows that can be stacked (rowLayout without building its text). */
export function sameRowLayout(a: readonly Pick<Feed, 'name' | 'type' | 'dims'>[], b: readonly Pick<Feed, 'name' | 'type' | 'dims'>[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if (x.name !== y.name || x.type !== y.type || x.dims.length !== y.dims.length) return false
    for (let d = 1; d < x.dims.length; d++) if (x.dims[d] !== y.dims[d]) return false
  }
  return true
}

/**
 * One input's rows of several jobs, copied in as the jobs come, so that the jobs' own buffers
 * need not be kept until the stack is taken (mirrors wait up to BATCH_MS in the outbox).
 */
export class RowStack {
  readonly name: string
  readonly type: Feed['type']
  readonly #rowDims: readonly number[]
  #data: TensorData
  #elements = 0
  #rows = 0

  constructor(first: Feed) {
    this.name = first.name
    this.type = first.type
    this.#rowDims = first.dims.slice(1)
    this.#data = Array.isArray(first.data) ? [] : new (first.data.constructor as new (n: number) => NumericData)(Math.max(first.data.length * 8, 64))
  }

  push(feed: Feed, rows: number): void {
    const part = feed.data
    this.#rows += rows
    if (Array.isArray(this.#data)) {
      for (const s of part as string[]) (this.#data as string[]).push(s)
      this.#elements += part.length
      return
    }
    if (this.#elements + part.length > this.#data.length) {
      const grown = new (this.#data.constructor as new (n: number) => NumericData)(Math.max(this.#data.length * 2, this.#elements + part.length))
      ;(grown as { set(a: ArrayLike<unknown>, o: number): void }).set(this.#data as ArrayLike<unknown>, 0)
      this.#data = grown
    }
    ;(this.#data as { set(a: ArrayLike<unknown>, o: number): void }).set(part as ArrayLike<unknown>, this.#elements)
    this.#elements += part.length
  }

  /** The rows so far as one feed, in a buffer of its own (to transfer). */
  take(): Feed {
    const data = Array.isArray(this.#data) ? this.#data : this.#data.slice(0, this.#elements)
    return { name: this.name, type: this.type, data: data as TensorData, dims: [this.#rows, ...this.#rowDims] }
  }
}
