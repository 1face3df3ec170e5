/**
 * Builds ONNX models in TypeScript, without Python: a graph of nodes, initializers, inputs
 * and outputs, encoded with protobufjs against onnx-proto.ts. The output has no timestamps
 * or anything else that changes between runs, so the same graph gives the same bytes.
 *
 * @example
 *   const g = new GraphBuilder('add-one')
 *   g.input('x', 'float32', ['N', 2])
 *   g.initializer('one', 'float32', [1], [1])
 *   g.node('Add', ['x', 'one'], ['y'])
 *   g.output('y', 'float32', ['N', 2])
 *   writeFileSync('model.onnx', g.encode())
 */
import protobuf from 'protobufjs'
import { ONNX_PROTO } from './onnx-proto.js'

export type ElementType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string' | 'uint8' | 'int8' | 'float16'

/** TensorProto.DataType numbers. */
const DATA_TYPE: Record<ElementType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, string: 8, bool: 9, float16: 10, float64: 11 }

/** A dimension: a size, or a name for a dynamic one (e.g. 'N' for the batch). */
export type Dim = number | string

export type AttributeValue = number | string | number[] | { floats: number[] } | { tensor: TensorValue }

export interface TensorValue {
  readonly type: ElementType
  readonly dims: readonly number[]
  readonly values: readonly (number | string | boolean | bigint)[]
}

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root
const ModelProto = root.lookupType('onnx.ModelProto')

const IR_VERSION = 8 // ONNX IR of opset 17
export const OPSET = 17

export class GraphBuilder {
  readonly #name: string
  readonly #nodes: object[] = []
  readonly #initializers: object[] = []
  readonly #inputs: object[] = []
  readonly #outputs: object[] = []
  #nodeCount = 0

  constructor(name: string) {
    this.#name = name
  }

  input(name: string, type: ElementType, shape: readonly Dim[]): this {
    this.#inputs.push(valueInfo(name, type, shape))
    return this
  }

  output(name: string, type: ElementType, shape: readonly Dim[]): this {
    this.#outputs.push(valueInfo(name, type, shape))
    return this
  }

  /** A constant tensor in the graph (weights, means, indices). */
  initializer(name: string, type: ElementType, dims: readonly number[], values: readonly (number | string | boolean | bigint)[]): this {
    this.#initializers.push(tensorProto(name, { type, dims, values }))
    return this
  }

  /** A node; attributes are numbers (int if integral, else float), strings, int lists, or {floats}/{tensor}. */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: Record<string, AttributeValue> = {}): this {
    this.#nodes.push({
      name: `${opType.toLowerCase()}_${this.#nodeCount++}`,
      op_type: opType,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    })
    return this
  }

  /** The model file's bytes. */
  encode(options: { docString?: string; metadata?: Record<string, string> } = {}): Uint8Array {
    const message = ModelProto.fromObject({
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: 'switchyard-training',
      producer_version: '1',
      doc_string: options.docString ?? '',
      graph: { name: this.#name, node: this.#nodes, initializer: this.#initializers, input: this.#inputs, output: this.#outputs },
      metadata_props: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    })
    return ModelProto.encode(message).finish()
  }
}

function valueInfo(name: string, type: ElementType, shape: readonly Dim[]): object {
  return {
    name,
    type: { tensor_type: { elem_type: DATA_TYPE[type], shape: { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  }
}

function tensorProto(name: string, t: TensorValue): object {
  const base = { name, dims: [...t.dims], data_type: DATA_TYPE[t.type] }
  switch (t.type) {
    case 'float32': return { ...base, float_data: t.values.map(Number) }
    case 'float64': return { ...base, double_data: t.values.map(Number) }
    case 'int64': return { ...base, int64_data: t.values.map((v) => Number(v)) }
    case 'string': return { ...base, string_data: t.values.map((v) => Buffer.from(String(v), 'utf8')) }
    case 'bool': return { ...base, int32_data: t.values.map((v) => (v ? 1 : 0)) }
    default: return { ...base, int32_data: t.values.map(Number) }
  }
}

function attribute(name: string, value: AttributeValue): object {
  if (typeof value === 'number') return Number.isInteger(value) ? { name, type: 2, i: value } : { name, type: 1, f: value }
  if (typeof value === 'string') return { name, type: 3, s: Buffer.from(value, 'utf8') }
  if (Array.isArray(value)) return { name, type: 7, ints: value }
  if ('floats' in value) return { name, type: 6, floats: value.floats }
  return { name, type: 4, t: tensorProto(name, value.tensor) }
}
