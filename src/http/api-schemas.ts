/**
 * The shapes of the bodies and query parameters that are checked by hand, written once as zod
 * schemas for the API description (GET /openapi.json). The hot path reads its bodies from the
 * bytes (protocols/plain-bodies.ts) and the control plane's checks write errors that name the
 * fix, so neither runs these; each schema names the code that holds it to account.
 */
import { z } from 'zod'
import { METRICS } from '../compare/compare.js'
import { STAGES } from '../lifecycle/stages.js'
import { TF_SIGNATURE } from '../protocols/tf-serving.js'
import { INFERENCE_ROLES } from '../store/records.js'
import { DEFAULT_PAGE, MAX_GROUND_TRUTH_ITEMS, MAX_PAGE } from './inference-log-routes.js'
import { DEFAULT_ACTIVITY, MAX_ACTIVITY, MAX_COMMENT, STATUSES } from './lifecycle-routes.js'
import { MAX_SENT_IN_ITEMS } from './sent-in-items.js'

/** inference-id.ts isValidInferenceId */
const InferenceId = z.union([z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/), z.int()])
  .describe('1 to 128 printable ASCII characters, or an integer')

/** timestamp.ts parseTimestamp */
const Time = z.union([z.string(), z.number()]).describe('an ISO 8601 time such as 2026-11-23T10:00:00Z, or milliseconds since the epoch')
const TimeText = z.string().describe('an ISO 8601 time such as 2026-11-23T10:00:00Z, or milliseconds since the epoch')

/** pipeline/caller-meta.ts: at most 32 names, string values up to 256 characters. */
const Attributes = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.union([z.string().max(256), z.number(), z.boolean()]))
  .describe('at most 32 attributes recorded with the inference')

// --- the native protocol (protocols/native.ts, records.ts) --------------------------------

const NativeRecord = z.object({ id: InferenceId.optional().describe('the row\'s inference id; else X-Inference-Id, else a new UUIDv7') })
  .catchall(z.number().describe('a feature of the version\'s signature (version.yaml): every one, no other'))

export const NativePredictRequest = z.object({
  instances: z.array(z.union([NativeRecord, z.array(z.number()).describe('a row as its features\' values in signature order')])).min(1)
    .describe('the records, each an object of features or an array in signature order; at most --max-request-rows'),
  timestamp: Time.optional().describe('when the case happened (or X-Inference-Timestamp)'),
  attributes: Attributes.optional().describe('recorded with each row (or X-Inference-Attributes)'),
}).catchall(z.unknown().describe('other top-level fields may be read by routes.yaml rules (field:NAME)'))

export const RoutedPredictRequest = NativePredictRequest.extend({
  model: z.string().optional().describe('the model; needed when the gateway serves several'),
})

export const NativePredictResponse = z.object({
  model: z.string(),
  version: z.string(),
  role: z.string().describe('primary (routed) or direct'),
  predictions: z.array(z.object({ id: InferenceId }).catchall(z.unknown()).describe('the outputs named by the signature')),
})

// --- the Open Inference Protocol (protocols/v2-tensors.ts) --------------------------------

const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'BF16', 'FP32', 'FP64', 'BYTES'] as const
const Parameters = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
const Shape = z.array(z.int().min(0))

export const InferRequest = z.object({
  id: z.string().optional().describe('the inference id, echoed; else X-Inference-Id, else a new UUIDv7'),
  inputs: z.array(z.object({
    name: z.string(),
    shape: Shape,
    datatype: z.enum(DATATYPES).describe('FP16 and BF16 only as binary data'),
    data: z.array(z.unknown()).optional().describe('the elements, flat or nested exactly to the shape; absent when parameters.binary_data_size is given'),
    parameters: Parameters.optional().describe('binary_data_size: the bytes of this input after the JSON header (binary tensor data extension)'),
  })).min(1),
  outputs: z.array(z.object({
    name: z.string(),
    parameters: Parameters.optional().describe('binary_data: true answers this output as bytes'),
  })).optional().describe('the outputs wanted; all when absent'),
  parameters: Parameters.optional().describe('binary_data_output: true answers every output as bytes'),
})

const OutputTensor = z.object({ name: z.string(), datatype: z.enum(DATATYPES), shape: Shape, data: z.array(z.unknown()).optional(), parameters: Parameters.optional() })

export const InferResponse = z.object({ model_name: z.string(), model_version: z.string(), id: z.string(), outputs: z.array(OutputTensor) })

const TensorSpec = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.int()).describe('-1 is any size') })

export const ServerMetadata = z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) })
export const ModelMetadata = z.object({ name: z.string(), versions: z.array(z.string()), platform: z.literal('onnx_onnxv1'), inputs: z.array(TensorSpec), outputs: z.array(TensorSpec) })
export const Live = z.object({ live: z.boolean() })
export const Ready = z.object({ ready: z.boolean() })
export const ModelReady = z.object({ name: z.string(), ready: z.boolean() })

// --- TF Serving REST (protocols/tf-serving.ts checkedBody, tf-serving-metadata.ts) ----------

const TfSignatureName = z.literal(TF_SIGNATURE).optional().describe(`the one signature an ONNX model has; any other is 400 TF_SIGNATURE_UNKNOWN`)

/** Exactly one of instances and inputs: each form forbids the other's field. */
export const TfPredictRequest = z.union([
  z.object({
    signature_name: TfSignatureName,
    instances: z.array(z.unknown()).min(1).describe('rows: one item an instance, the one input\'s value or an object of every input\'s; at most --max-request-rows'),
    inputs: z.never().optional(),
  }),
  z.object({
    signature_name: TfSignatureName,
    inputs: z.unknown().describe('columns: the one input\'s whole tensor as nested lists, or an object of every input\'s'),
    instances: z.never().optional(),
  }),
]).describe('strings may come as {"b64": "..."}')

export const TfPredictResponse = z.union([
  z.object({ predictions: z.array(z.unknown()).describe('to instances: one item an instance, the one output\'s value or an object by output name') }),
  z.object({ outputs: z.unknown().describe('to inputs: the one output\'s tensor, or an object of every output\'s') }),
]).describe('outputs named *_bytes come as {"b64": "..."}')

export const TfModelStatus = z.object({
  model_version_status: z.array(z.object({
    version: z.string().describe('the version folder\'s name'),
    state: z.enum(['LOADING', 'AVAILABLE', 'END', 'UNLOADING']).describe('END: it failed to load; the error is in status'),
    status: z.object({ error_code: z.string(), error_message: z.string() }),
  })),
})

const TfTensorInfo = z.object({
  dtype: z.string().describe('DT_FLOAT, DT_INT64, DT_STRING, ...'),
  tensor_shape: z.object({ dim: z.array(z.object({ size: z.string().describe('-1 is any size'), name: z.string() })), unknown_rank: z.boolean() }),
  name: z.string(),
})

export const TfModelMetadata = z.object({
  model_spec: z.object({ name: z.string(), signature_name: z.string(), version: z.string() }),
  metadata: z.object({
    signature_def: z.object({
      signature_def: z.record(z.string(), z.object({
        inputs: z.record(z.string(), TfTensorInfo),
        outputs: z.record(z.string(), TfTensorInfo),
        method_name: z.string(),
      })).describe(`one signature, ${TF_SIGNATURE}`),
    }),
  }),
})

// --- the control plane's hand-checked bodies ----------------------------------------------

/** inference-log-routes.ts parseGroundTruth */
export const GroundTruthRequest = z.array(z.strictObject({
  inference_id: InferenceId,
  label: z.union([z.string(), z.number(), z.boolean()]).optional().describe('a class; label or value (or both)'),
  value: z.number().optional().describe('a number, for regression'),
  timestamp: Time.optional().describe('when the outcome was known; now when absent'),
})).min(1).max(MAX_GROUND_TRUTH_ITEMS)

/** sent-in-items.ts parseSentInBody: each item checked on its own (a bad one is answered in `errors`) */
const SentInValues = z.union([
  z.record(z.string(), z.unknown()).describe('named values, as a native record or prediction'),
  z.array(z.object({ name: z.string(), datatype: z.enum(DATATYPES), shape: Shape, data: z.array(z.unknown()), parameters: Parameters.optional() })).describe('Open Inference Protocol tensors'),
])
export const SentInRequest = z.array(z.strictObject({
  inference_id: InferenceId,
  version: z.string().optional().describe('the version that made it; else ?version='),
  timestamp: Time.optional().describe('when it was made; now when absent'),
  inputs: SentInValues,
  outputs: SentInValues.optional().describe("or 'prediction'"),
  prediction: SentInValues.optional(),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
})).min(1).max(MAX_SENT_IN_ITEMS)
export const SentInQuery: QuerySchema = { version: z.string().describe('the version of the items that name none') }
export const SentInAnswer = z.object({
  model: z.string(),
  received: z.int(),
  accepted: z.int().describe('stored now'),
  duplicate: z.int().describe('stored before (or twice in this call): nothing stored'),
  rejected: z.int(),
  errors: z.array(z.object({ index: z.int(), code: z.string(), message: z.string() })).describe('one a rejected item'),
})

const Comment = z.string().max(MAX_COMMENT)
/** lifecycle-routes.ts readBody, commentOf: an optional body with only these fields */
export const StageRequestBody = z.strictObject({
  stage: z.string().describe(`one of ${STAGES.join(', ')} (any case)`),
  comment: Comment.optional(),
})
export const CommentBody = z.strictObject({ comment: Comment.optional() })

/** admin-routes.ts POST /admin/routes/rollback */
export const RollbackRequest = z.object({ revision: z.int().describe('a revision from GET /admin/routes') })

// --- query parameters (http/query-params.ts: each at most once) ---------------------------

export type QuerySchema = Readonly<Record<string, z.ZodType>>

export const InferencesQuery: QuerySchema = {
  version: z.string(),
  role: z.enum(INFERENCE_ROLES as [string, ...string[]]),
  since: TimeText,
  until: TimeText,
  has_ground_truth: z.enum(['true', 'false']),
  limit: z.int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
  order: z.enum(['asc', 'desc']).default('asc'),
  cursor: z.string().describe('next_cursor from the previous page'),
}
export const CompareQuery: QuerySchema = {
  since: TimeText,
  until: TimeText,
  a: z.string().describe('a version, or version:role such as v2:challenger; with b'),
  b: z.string().describe('the other side; with a'),
  metric: z.enum(METRICS),
}
export const TimeseriesQuery: QuerySchema = {
  since: TimeText.describe('default: an hour before until'),
  until: TimeText.describe('default: now'),
  bucket_seconds: z.int().min(1).describe('at most 2,000 buckets over the window'),
}
/** drift-routes.ts */
export const DriftQuery: QuerySchema = {
  version: z.string().describe('the version whose records to measure (required)'),
  since: TimeText.describe('default: a day before until'),
  until: TimeText.describe('default: now'),
  reference: z.string().describe('profile (the default: the version\'s reference profile), profile:VERSION, VERSION (its records in the same window) or window:SINCE..UNTIL'),
}
const FeatureDrift = z.object({
  feature: z.string(),
  kind: z.enum(['numeric', 'categorical']),
  n: z.int().describe('values counted in the window'),
  reference_n: z.int().describe('values in the reference'),
  psi: z.number().nullable().describe('population stability index; null with no values on a side'),
  test: z.enum(['ks', 'chi_square']),
  statistic: z.number().nullable().describe('KS distance of the binned CDFs, or the chi-square statistic'),
  p_value: z.number().nullable(),
  flagged: z.boolean().describe('psi at or past thresholds.psi'),
})
export const DriftAnswer = z.object({
  model: z.string(),
  version: z.string(),
  reference: z.object({ kind: z.enum(['profile', 'version', 'window']) }).catchall(z.unknown()).describe('profile: version, records, source, updated_at, updated_by; version and window: version, since, until, n, bins_from'),
  since: z.string(),
  until: z.string(),
  n: z.int().describe('answered records of the version in the window'),
  source: z.enum(['rollups', 'records']).describe('rollups: counted from the per-minute drift rollups; records: from every record (another version\'s bins, or rollups still being rebuilt after a profile was set)'),
  thresholds: z.object({ psi: z.number() }),
  features: z.array(FeatureDrift).describe('flagged first, then by psi, highest first'),
  score: FeatureDrift.nullable(),
})
export const ReferenceSummary = z.object({
  model: z.string(), version: z.string(), records: z.int(), source: z.string(), features: z.int(), score: z.boolean(), updated_at: z.string(), updated_by: z.string(),
})
export const VersionsQuery: QuerySchema = { stage: z.string().describe(`one of ${STAGES.join(', ')}`), label: z.string() }
export const StageRequestsQuery: QuerySchema = { model: z.string(), status: z.enum(STATUSES as [string, ...string[]]).default('pending') }
export const ModelStageRequestsQuery: QuerySchema = { status: StageRequestsQuery.status }
export const ActivityQuery: QuerySchema = { model: z.string(), since: TimeText, limit: z.int().min(1).max(MAX_ACTIVITY).default(DEFAULT_ACTIVITY) }
