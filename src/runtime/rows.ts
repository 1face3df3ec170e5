/**
 * Stacking several requests' tensors along the first dimension (their rows) into one, and
 * taking one request's rows back out. The coalescer stacks feeds for one session.run and
 * splits the outputs; mirrors stack a turn's feeds for one message to their worker.
 */
import { elementCount } from './tensors.js'
import type { Feed, TensorData } from './tensors.js'

type NumericData = Exclude<TensorData, string[]>

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

/** Rows firstRow..firstRow+rows of a tensor: a view on the same buffer (a copy for strings). */
export function takeRows<T extends { readonly data: TensorData; readonly dims: readonly number[] }>(tensor: T, firstRow: number, rows: number): T {
  const rowSize = elementCount(tensor.dims.slice(1))
  const start = firstRow * rowSize
  const end = start + rows * rowSize
  const data = Array.isArray(tensor.data) ? tensor.data.slice(start, end) : tensor.data.subarray(start, end)
  return { ...tensor, data, dims: [rows, ...tensor.dims.slice(1)] }
}
