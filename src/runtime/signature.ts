/**
 * A version's named feature signature (version.yaml), checked against the model's real inputs
 * and outputs when it loads. What it means on the wire, JSON records in and named predictions
 * out, is protocols/records.ts.
 */
import type { Feature, OutputField, Signature } from '../registry/metadata.js'
import { slabOf } from './feed-slab.js'
import type { FeedSlab } from './feed-slab.js'
import type { TensorSpec } from './tensors.js'

export interface CompiledSignature {
  readonly input: string
  readonly ortType: 'float32' | 'float64'
  readonly features: readonly Feature[]
  /** The features' names, in order. */
  readonly featureNames: readonly string[]
  /** Each feature's key as a JSON record writes it: `{"limit_bal":`, then `,"age":`. */
  readonly featureKeys: readonly string[]
  /** Every feature name is printable ASCII without '"' or '\\', so it can be matched in the body's bytes as it is (plain-bodies.ts). */
  readonly hasPlainFeatureNames: boolean
  readonly outputs: readonly OutputField[]
  /** Each output field's key as the answer writes it after the id: `,"probability":`. */
  readonly outputKeys: readonly string[]
  /** What error bodies show as the expected signature. */
  readonly expected: { readonly features: readonly { name: string; type: string }[]; readonly outputs: readonly string[] }
}

/** Check a signature against the session's real inputs and outputs; throws an Error naming the mismatch. */
export function compileSignature(signature: Signature, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): CompiledSignature {
  const input = inputs.find((i) => i.name === signature.input)
  if (input === undefined) throw new Error(`signature.input '${signature.input}' is not an input of model.onnx (inputs: ${inputs.map((i) => i.name).join(', ')})`)
  if (inputs.length !== 1) throw new Error(`a named signature needs a model with exactly one input; this one has ${inputs.length}`)
  if (input.ortType !== 'float32' && input.ortType !== 'float64') throw new Error(`signature input '${input.name}' is ${input.ortType}; named features need a float32 or float64 input`)
  const width = input.shape[1]
  if (input.shape.length !== 2 || (width !== -1 && width !== signature.features.length)) {
    throw new Error(`signature input '${input.name}' has shape [${input.shape.join(', ')}]; ${signature.features.length} features need [N, ${signature.features.length}]`)
  }
  const seen = new Set<string>()
  for (const f of signature.features) {
    if (seen.has(f.name)) throw new Error(`feature '${f.name}' is listed twice in the signature`)
    seen.add(f.name)
  }
  for (const o of signature.outputs) {
    if (!outputs.some((t) => t.name === o.output)) throw new Error(`signature output '${o.name}' reads '${o.output}', which is not an output of model.onnx`)
  }
  return {
    input: input.name,
    ortType: input.ortType,
    features: signature.features,
    featureNames: signature.features.map((f) => f.name),
    featureKeys: signature.features.map((f, c) => `${c === 0 ? '{' : ','}${JSON.stringify(f.name)}:`),
    hasPlainFeatureNames: signature.features.every((f) => /^[\x20-\x7e]*$/.test(f.name) && !/["\\]/.test(f.name)),
    outputs: signature.outputs,
    outputKeys: signature.outputs.map((o) => `,${JSON.stringify(o.name)}:`),
    expected: {
      features: signature.features.map((f) => ({ name: f.name, type: f.type })),
      outputs: signature.outputs.map((o) => o.name),
    },
  }
}

const allocateFloat32 = (n: number): Float32Array => new Float32Array(n)
const allocateFloat64 = (n: number): Float64Array => new Float64Array(n)

/** Where the signature's input rows are written (feed-slab.ts): one slab a version. */
export function inputSlab(sig: CompiledSignature): FeedSlab<Float32Array | Float64Array> {
  return slabOf<Float32Array | Float64Array>(sig, sig.ortType === 'float32' ? allocateFloat32 : allocateFloat64)
}

