/**
 * Tensor data for requests, handed out as consecutive views of one large buffer. A request's
 * rows then cost no buffer of their own (a Float32Array of 22 elements took 0.27 µs, more than
 * reading the numbers into it), and the requests of one version decoded one after another sit
 * side by side, so that the coalescer runs them as one view (joinedView) instead of copying
 * them into a stacked buffer.
 *
 * A slab lives as long as any view of it does. Views are never transferred to a worker (that
 * would detach the slab under every other view): mirrors copy rows out (rows.ts RowStack).
 */
import type { TensorData } from './tensors.js'

export type NumericData = Exclude<TensorData, string[]>

const SLAB_BYTES = 64 * 1024 // 64 KiB: 745 requests of 22 float32 features

export class FeedSlab<T extends NumericData> {
  readonly #allocate: (n: number) => T
  readonly #slabElements: number
  #slab: T
  #used = 0

  constructor(allocate: (n: number) => T) {
    this.#allocate = allocate
    this.#slabElements = SLAB_BYTES / allocate(0).BYTES_PER_ELEMENT
    this.#slab = allocate(this.#slabElements)
  }

  /** A view of `n` zeros, right after the last one handed out when it fits. */
  take(n: number): T {
    if (this.#used + n > this.#slab.length) {
      if (n > this.#slabElements / 4) return this.#allocate(n) // a big request gets a buffer of its own
      this.#slab = this.#allocate(this.#slabElements)
      this.#used = 0
    }
    const view = this.#slab.subarray(this.#used, this.#used + n) as T
    this.#used += n
    return view
  }
}

const slabs = new WeakMap<object, FeedSlab<NumericData>>()

/** The slab of `owner` (a version's signature, a model input), made on first use. */
export function slabOf<T extends NumericData>(owner: object, allocate: (n: number) => T): FeedSlab<T> {
  let slab = slabs.get(owner)
  if (slab === undefined) {
    slab = new FeedSlab<NumericData>(allocate)
    slabs.set(owner, slab)
  }
  return slab as FeedSlab<T>
}

/** The parts as one view when they are consecutive views of one buffer, in order; else null. */
export function joinedView(parts: readonly NumericData[]): NumericData | null {
  const first = parts[0]
  let end = first.byteOffset + first.byteLength
  for (let k = 1; k < parts.length; k++) {
    const part = parts[k]
    if (part.buffer !== first.buffer || part.byteOffset !== end || part.constructor !== first.constructor) return null
    end += part.byteLength
  }
  const ctor = first.constructor as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => NumericData
  return new ctor(first.buffer, first.byteOffset, (end - first.byteOffset) / first.BYTES_PER_ELEMENT)
}
