/**
 * The files a person writes next to the models: models/<model>/model.yaml (the group) and
 * models/<model>/<version>/version.yaml (one version). Both are optional.
 */
import { readRegularFile } from '../config/regular-file.js'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'

const featureName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'feature names are identifiers')
  .refine((n) => n !== 'id' && n !== '__proto__', 'id and __proto__ are reserved')

export const FeatureSchema = z.strictObject({
  name: featureName,
  type: z.enum(['number', 'integer']),
  description: z.string().optional(),
})

export const OutputFieldSchema = z.strictObject({
  /** The field name in each prediction. */
  name: featureName,
  /** The ONNX output it is read from. */
  output: z.string().min(1),
  /** Class names by index: a scalar index becomes its name, a vector becomes an object keyed by name. */
  classes: z.array(z.string()).min(1).optional(),
})

export const SignatureSchema = z.strictObject({
  /** The ONNX input the features are packed into, in order, as an [N, F] tensor. */
  input: z.string().min(1),
  features: z.array(FeatureSchema).min(1),
  outputs: z.array(OutputFieldSchema).min(1),
})

/** One tensor of warm-up data: its shape and its values flat, row major. */
export const WarmupTensorSchema = z.strictObject({
  shape: z.array(z.number().int().min(0)).max(16),
  data: z.array(z.union([z.number(), z.string(), z.boolean()])),
}).superRefine((t, ctx) => {
  const size = t.shape.reduce((a, b) => a * b, 1)
  if (t.data.length !== size) ctx.addIssue({ code: 'custom', message: `data has ${t.data.length} values; shape [${t.shape.join(', ')}] holds ${size}` })
})

export const VersionMetadataSchema = z.strictObject({
  label: z.string().optional(),
  description: z.string().optional(),
  created: z.union([z.string(), z.date().transform((d) => d.toISOString().slice(0, 10))]).optional(),
  signature: SignatureSchema.optional(),
  training: z.record(z.string(), z.unknown()).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 is 64 lowercase hex digits').optional(),
  /** A remote version: the Open Inference Protocol URL of the model version on another server. */
  upstream: z.string().url().regex(/^https?:\/\//, 'upstream is an http(s) URL').optional(),
  /** How long a remote version may take to answer. */
  timeout_ms: z.number().int().positive().optional(),
  /** Dynamic batching for a heavy model (run-coalescer.ts), as Triton's dynamic_batching. */
  batching: z.strictObject({
    max_batch_size: z.number().int().min(1).max(65_536),
    max_queue_delay_ms: z.number().min(0).max(10_000),
  }).optional(),
  /** Run the session on a thread of its own (true) or on the request thread (false); by default decided by the timed warm run (session-thread.ts). */
  session_thread: z.boolean().optional(),
  /** The inputs to warm (and time) the session with, by ONNX input name, as Triton's model_warmup; zeros otherwise. */
  warmup: z.strictObject({ inputs: z.record(z.string().min(1), WarmupTensorSchema) }).optional(),
})

export const ModelGroupMetadataSchema = z.strictObject({
  task: z.enum(['binary-classification', 'multiclass-classification', 'regression', 'other']).optional(),
  description: z.string().optional(),
  owner: z.string().optional(),
  data: z.string().optional(),
  /** Input fields the inference log must not keep as sent: dropped, or replaced by a keyed hash. */
  privacy: z.strictObject({
    drop: z.array(z.string()).default([]),
    hash: z.array(z.string()).default([]),
  }).optional(),
  /** When drift is flagged (GET /v1/models/{model}/drift, docs/drift.md): a feature's PSI at or past `psi`. */
  drift: z.strictObject({
    psi: z.number().positive().max(100).optional(), // default 0.2 (drift/drift.ts)
  }).optional(),
})

export type Feature = z.infer<typeof FeatureSchema>
export type OutputField = z.infer<typeof OutputFieldSchema>
export type Signature = z.infer<typeof SignatureSchema>
export type WarmupTensor = z.infer<typeof WarmupTensorSchema>
export type VersionMetadata = z.infer<typeof VersionMetadataSchema>
export type ModelGroupMetadata = z.infer<typeof ModelGroupMetadataSchema>

const MAX_METADATA_BYTES = 1024 * 1024 // 1 MiB: a signature of thousands of features

/**
 * Read and check a YAML file; a missing file is `null`, a bad one throws a readable Error.
 * What is not a regular file (a FIFO would hang every later rescan) is a bad one.
 */
export async function readYamlFile<T>(path: string, schema: z.ZodType<T>): Promise<T | null> {
  const read = await readRegularFile(path, MAX_METADATA_BYTES)
  if (!read.ok && read.isMissing) return null
  if (!read.ok) throw new Error(`${path}: ${read.reason}`)
  const text = read.text
  const parsed = schema.safeParse(parseYaml(text) ?? {})
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`)
    throw new Error(`${path}: ${problems.join('; ')}`)
  }
  return parsed.data
}
