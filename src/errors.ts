/**
 * The one error catalogue. Every error the gateway answers with is defined here: a stable
 * code, its HTTP status and a message that names the thing and the fix.
 *
 * Codes are never reused or renamed once released. None has been retired yet: the first to go
 * starts a list of retired codes, with a test that none of them is back in the catalogue.
 * docs/errors.md has one row per code and a test keeps the two in step.
 */

export interface ErrorSpec {
  readonly status: number
  readonly message: (...args: never[]) => string
}

const list = (items: readonly string[]): string => (items.length ? items.join(', ') : '(none)')

export const Errors = {
  // --- request body -------------------------------------------------------------------
  BODY_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: (got: string) => `Content-Type '${got}' is not supported; send the body as JSON with 'Content-Type: application/json'`,
  },
  BODY_TOO_LARGE: {
    status: 413,
    message: (limitBytes: number, fix = 'send fewer rows per request or raise --max-body-bytes') => `request body is larger than the limit of ${limitBytes} bytes; ${fix}`,
  },
  BODY_MALFORMED_JSON: {
    status: 400,
    message: (detail: string) => `request body is not valid JSON (${detail}); NaN and Infinity are not JSON, send finite numbers`,
  },
  BODY_INVALID: {
    status: 400,
    message: (detail: string) => `request body is not of the expected shape: ${detail}`,
  },
  BATCH_TOO_LARGE: {
    status: 400,
    message: (rows: number, limit: number) => `request has ${rows} rows, more than the limit of ${limit}; split it into several requests`,
  },
  // --- native JSON features -----------------------------------------------------------
  FEATURE_MISSING: {
    status: 400,
    message: (row: number, feature: string) => `instances[${row}] lacks feature '${feature}'; every row needs all features of the signature`,
  },
  FEATURE_UNKNOWN: {
    status: 400,
    message: (row: number, feature: string) => `instances[${row}] has feature '${feature}', which the version's signature does not take; remove it`,
  },
  FEATURE_MISTYPED: {
    status: 400,
    message: (row: number, feature: string, expected: string, got: string) =>
      `instances[${row}].${feature} must be ${expected}, got ${got}`,
  },
  FEATURE_COUNT_MISMATCH: {
    status: 400,
    message: (row: number, got: number, names: readonly string[]) =>
      `instances[${row}] has ${got} value${got === 1 ? '' : 's'}; a row sent as an array has one for each of the ${names.length} features, in this order: ${names.length > 64 ? `${names.slice(0, 64).join(', ')}, … (GET the version's signature)` : names.join(', ')}`,
  },
  VERSION_HAS_NO_SIGNATURE: {
    status: 400,
    message: (model: string, version: string, hasVersionYaml: boolean) =>
      `model '${model}' version '${version}' has no named feature signature (${hasVersionYaml ? 'its version.yaml has none' : 'it has no version.yaml'}); add one (docs/models.md), or call POST /v2/models/${model}/versions/${version}/infer with tensors`,
  },
  // --- Open Inference Protocol tensors ------------------------------------------------
  TENSOR_INPUT_UNKNOWN: {
    status: 400,
    message: (name: string, expected: readonly string[]) => `input '${name}' is not an input of this model; its inputs are: ${list(expected)}`,
  },
  TENSOR_INPUT_MISSING: {
    status: 400,
    message: (name: string, where = "'inputs'") => `input '${name}' is required by the model but missing from ${where}`,
  },
  TENSOR_INPUT_DUPLICATE: {
    status: 400,
    message: (name: string) => `input '${name}' is given more than once; send each input once`,
  },
  TENSOR_DATATYPE_MISMATCH: {
    status: 400,
    message: (name: string, expected: string, got: string) => `input '${name}' must have datatype ${expected}, got ${got}`,
  },
  TENSOR_BINARY_SIZE_MISMATCH: {
    status: 400,
    message: (name: string, expected: number, got: number, what: string) =>
      `input '${name}' has ${got} bytes of binary data where ${what} make ${expected}; set each input's parameters.binary_data_size to its data's size in bytes`,
  },
  TENSOR_DATATYPE_UNSUPPORTED: {
    status: 400,
    message: (name: string, datatype: string) =>
      `datatype ${datatype} of '${name}' is not supported in JSON; use one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP32, FP64, BYTES, or send FP16 and BF16 as binary data (Inference-Header-Content-Length)`,
  },
  TENSOR_SHAPE_MISMATCH: {
    status: 400,
    message: (name: string, expected: string, got: string) => `input '${name}' must have shape ${expected} (-1 is any size), got ${got}`,
  },
  TENSOR_DATA_SIZE_MISMATCH: {
    status: 400,
    message: (name: string, expected: number, got: number) =>
      `input '${name}' has ${got} data elements but its shape holds ${expected}; data must list every element in row-major order`,
  },
  TENSOR_DATA_INVALID: {
    status: 400,
    message: (name: string, index: number, expected: string) => `input '${name}' element ${index} must be ${expected}`,
  },
  TENSOR_RAGGED: {
    status: 400,
    message: (name: string, detail: string) =>
      `input '${name}' is not a rectangular tensor: ${detail}; nested lists must have the same length at each level, and every instance the same shape`,
  },
  OUTPUT_UNKNOWN: {
    status: 400,
    message: (name: string, outputs: readonly string[]) => `output '${name}' is not an output of this model; its outputs are: ${list(outputs)}`,
  },
  PARAMETERS_INVALID: {
    status: 400,
    message: (where: string, detail: string) => `${where} is invalid: ${detail}; parameter values must be strings, numbers or booleans`,
  },
  // --- TF Serving REST ---------------------------------------------------------------
  TF_SIGNATURE_UNKNOWN: {
    status: 400,
    message: (signature: string) =>
      `signature_name '${signature}' is not a signature here: an ONNX model has one, 'serving_default'; leave signature_name out or send "serving_default"`,
  },
  TF_METHOD_UNSUPPORTED: {
    status: 400,
    message: (method: string, model: string) =>
      `':${method}' is not served here: Switchyard serves TF Serving's ':predict' only; POST {"instances": [...]} or {"inputs": ...} to /v1/models/${model}:predict`,
  },
  TF_ROW_OUTPUT_UNBATCHED: {
    status: 400,
    message: (output: string, shape: string, rows: number) =>
      `output '${output}' has shape ${shape}, not one entry for each of the ${rows} instances, so the row format cannot answer it; send the request in the columnar format, {"inputs": ...}`,
  },
  // --- models and versions ------------------------------------------------------------
  NAME_INVALID: {
    status: 400,
    message: (kind: string, name: string) =>
      `${kind} name '${name}' is not valid; names match [A-Za-z0-9][A-Za-z0-9._-]* (no path separators, no leading dot)`,
  },
  MODEL_NOT_FOUND: {
    status: 404,
    message: (model: string, models: readonly string[]) => `model '${model}' is not served here; models: ${list(models)}`,
  },
  VERSION_NOT_FOUND: {
    status: 404,
    message: (model: string, version: string, versions: readonly string[]) =>
      `model '${model}' has no version '${version}'; versions: ${list(versions)}`,
  },
  VERSION_NOT_READY: {
    status: 503,
    message: (model: string, version: string, state: string) => `model '${model}' version '${version}' is ${state}, not ready; retry shortly`,
  },
  VERSION_FAILED: {
    status: 503,
    message: (model: string, version: string, reason: string) =>
      `model '${model}' version '${version}' failed to load (${reason}); fix the version folder and restart, or use another version`,
  },
  NO_READY_VERSION: {
    status: 503,
    message: (model: string) => `model '${model}' has no version ready to serve; check GET /v1/models/${model}`,
  },
  LABEL_NOT_FOUND: {
    status: 404,
    message: (model: string, label: string, labels: readonly string[]) => `model '${model}' has no label '${label}' in routes.yaml; labels: ${list(labels)}`,
  },
  MODEL_NOT_ROUTED: {
    status: 503,
    message: (model: string) =>
      `model '${model}' has no route in routes.yaml and no version in Production, so no version was chosen for its routed calls; ` +
      `add a route to routes.yaml, move a version to Production (switchyard stage request ${model} VERSION Production), or call a version: /v1/models/${model}/versions/VERSION/predict`,
  },
  MODEL_SERVED_ELSEWHERE: {
    status: 409,
    message: (model: string) =>
      `model '${model}' has no version here: its folder holds only model.yaml, for a model served elsewhere whose inferences are sent in (POST /v1/models/${model}/inferences); ` +
      `add a version folder with a model.onnx to serve it here`,
  },
  VERSION_ARCHIVED: {
    status: 409,
    message: (model: string, version: string) =>
      `the request pins model '${model}' to version '${version}', which is Archived and answers no live traffic; pin a version in service, or drop the pin`,
  },
  PINNED_VERSION_NOT_FOUND: {
    status: 404,
    message: (model: string, version: string, versions: readonly string[]) =>
      `the request pins model '${model}' to version '${version}', which does not exist; versions: ${list(versions)}`,
  },
  VERSION_UNLOADED: {
    status: 503,
    message: (model: string, version: string) =>
      `model '${model}' version '${version}' was unloaded (POST /v2/repository/models/${model}/unload); load it again with POST /v2/repository/models/${model}/load`,
  },
  MODEL_NOT_NAMED: {
    status: 400,
    message: (models: readonly string[]) => `POST /predict serves several models; name one in the body's "model" field (models: ${list(models)})`,
  },
  // --- model repository extension (load, unload) -----------------------------------
  MODEL_NOT_IN_REPOSITORY: {
    status: 404,
    message: (model: string, modelsDir: string) =>
      `model '${model}' has no folder in the model repository ${modelsDir}; put ${model}/<version>/model.onnx there, then load it`,
  },
  MODEL_LOAD_FAILED: {
    status: 422,
    message: (model: string, failed: readonly string[]) =>
      `model '${model}' did not load: ${failed.join('; ')}; the versions that were serving still serve. Fix the version folders and load again`,
  },
  MODEL_TAKES_LIVE_TRAFFIC: {
    status: 409,
    message: (model: string, version: string, how: string) =>
      `model '${model}' version '${version}' takes live traffic ${how}; move that traffic elsewhere before unloading the model`,
  },
  // --- routes.yaml --------------------------------------------------------------------
  ROUTES_INVALID: {
    status: 422,
    message: (path: string, problems: number) => `${path} has ${problems} problem(s); still serving the last good config`,
  },
  ROUTES_INVALID_AT_START: {
    status: 422,
    message: (path: string, problems: number) => `${path} has ${problems} problem(s); the gateway does not start on an invalid config, fix them or check with switchyard validate`,
  },
  REVISION_NOT_FOUND: {
    status: 404,
    message: (revision: number, kept: readonly number[]) => `no revision ${revision} in the history; kept revisions: ${list(kept.map(String))}`,
  },
  // --- inference log and ground truth ------------------------------------------------
  INFERENCE_ID_INVALID: {
    status: 400,
    message: (where: string) => `${where} must be a string of 1 to 128 printable ASCII characters, or an integer`,
  },
  TIMESTAMP_INVALID: {
    status: 400,
    message: (where: string) => `${where} must be an ISO 8601 time such as 2026-11-23T10:00:00Z, or milliseconds since the epoch`,
  },
  ATTRIBUTES_INVALID: {
    status: 400,
    message: (detail: string) => `inference attributes ${detail}; send at most 32 names of letters, digits, '_', '.' or '-' with string (up to 256 characters), number or boolean values`,
  },
  GROUND_TRUTH_INVALID: {
    status: 400,
    message: (detail: string) => `ground truth ${detail}; send [{"inference_id": "...", "label": 1}] or [{"inference_id": "...", "value": 12.5}], with an optional "timestamp"`,
  },
  INFERENCES_INVALID: {
    status: 400,
    message: (detail: string) => `inferences sent in ${detail}; send a JSON array of [{"inference_id": "...", "version": "v1", "inputs": {...}, "outputs": {...}}] (docs/inference-log.md, "Inferences sent in")`,
  },
  INFERENCE_ITEM_INVALID: {
    status: 400,
    message: (detail: string) => `${detail}; an item is {"inference_id", "version"?, "timestamp"?, "inputs": {name: value} or [V2 tensors], "outputs" or "prediction": {name: value} or [V2 tensors], "attributes"?}`,
  },
  QUERY_INVALID: {
    status: 400,
    message: (parameter: string, detail: string) => `query parameter '${parameter}' ${detail}`,
  },
  INFERENCE_LOG_DISABLED: {
    status: 409,
    message: () => 'the gateway runs without a store (--store none), which keeps inferences, ground truth, stages and the activity log; start it with --store sqlite:PATH or --store postgres://...',
  },
  INFERENCE_STORE_UNAVAILABLE: {
    status: 503,
    message: () => 'the inference log store is unavailable; records are kept and delivered when it is back. Try this call again shortly',
  },
  // --- reference data and drift ------------------------------------------------------
  REFERENCE_INVALID: {
    status: 400,
    message: (detail: string) => `the reference profile ${detail}; build one from a reference file with switchyard reference --model M --version V FILE (docs/drift.md)`,
  },
  DRIFT_NO_REFERENCE: {
    status: 404,
    message: (model: string, version: string) =>
      `model '${model}' version '${version}' has no reference profile; give it one with switchyard reference --model ${model} --version ${version} FILE ` +
      '(.csv, .jsonl or .parquet of its training or validation data), or measure against another version or window with reference=VERSION or reference=window:SINCE..UNTIL',
  },
  // --- lifecycle: stages, approvals, locks --------------------------------------------
  STAGE_INVALID: {
    status: 400,
    message: (got: string, stages: readonly string[]) => `'${got}' is not a stage; stages: ${list(stages)}`,
  },
  STAGE_UNCHANGED: {
    status: 409,
    message: (model: string, version: string, stage: string) => `model '${model}' version '${version}' is already in stage ${stage}`,
  },
  VERSION_LOCKED: {
    status: 409,
    message: (model: string, version: string) => `model '${model}' version '${version}' is locked: its stage cannot change until an admin unlocks it`,
  },
  VERSION_TAKES_LIVE_TRAFFIC: {
    status: 409,
    message: (model: string, version: string, how: string) =>
      `model '${model}' version '${version}' takes live traffic ${how}; move its traffic elsewhere before archiving it`,
  },
  STAGE_REQUEST_PENDING: {
    status: 409,
    message: (model: string, version: string, id: string) => `model '${model}' version '${version}' already has a pending stage request (${id}); approve, reject or cancel it first`,
  },
  STAGE_REQUEST_NOT_FOUND: {
    status: 404,
    message: (id: string) => `no stage request '${id}'; see GET /v1/stage-requests`,
  },
  STAGE_REQUEST_CLOSED: {
    status: 409,
    message: (id: string, status: string) => `stage request '${id}' is already ${status}`,
  },
  SECOND_PERSON_REQUIRED: {
    status: 403,
    message: (requester: string) => `'${requester}' requested this change; a different person with the approver role must approve or reject it`,
  },
  NOT_THE_REQUESTER: {
    status: 403,
    message: (requester: string) => `only the requester ('${requester}') may cancel this request; an approver may reject it`,
  },
  // --- tokens and roles ---------------------------------------------------------------
  AUTH_REQUIRED: {
    status: 401,
    message: (configured: boolean) => configured
      ? "this endpoint needs a token: send 'Authorization: Bearer <token>'"
      : "this endpoint needs a token and none is configured; create one with 'switchyard token new --name you --role admin'",
  },
  AUTH_INVALID: {
    status: 401,
    message: () => 'the token is not one of the configured tokens; check it, or create one with switchyard token new',
  },
  FORBIDDEN: {
    status: 403,
    message: (name: string, role: string, permission: string) => `'${name}' has the role ${role}, which may not ${permission}; ask an admin for a token with that right`,
  },
  // --- HTTP ---------------------------------------------------------------------------
  ROUTE_NOT_FOUND: {
    status: 404,
    message: (method: string, path: string) => `no endpoint ${method} ${path}; see the README for the endpoints`,
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    message: (method: string, path: string, allowed: string) => `${method} is not allowed on ${path}; use ${allowed}`,
  },
  // --- the gateway itself -------------------------------------------------------------
  INFERENCE_FAILED: {
    status: 500,
    message: (model: string, version: string) => `model '${model}' version '${version}' failed while running; the error is logged`,
  },
  INTERNAL: {
    status: 500,
    message: () => 'internal error; it is logged',
  },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof Errors

export class SwitchyardError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** Extra fields put in the JSON error body next to `error` and `code`. */
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(code: ErrorCode, status: number, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SwitchyardError'
    this.code = code
    this.status = status
    this.details = options?.details
  }
}

type MessageArgs<C extends ErrorCode> = Parameters<(typeof Errors)[C]['message']>

/**
 * Make a catalogue error.
 * @example throw gatewayError('MODEL_NOT_FOUND', 'fraud', ['credit-risk', 'iris'])
 */
export function gatewayError<C extends ErrorCode>(code: C, ...args: MessageArgs<C>): SwitchyardError {
  const spec: ErrorSpec = Errors[code]
  return new SwitchyardError(code, spec.status, (spec.message as (...a: unknown[]) => string)(...args))
}

/** The same, with extra fields for the body (e.g. the expected signature) and a cause. */
export function gatewayErrorWith<C extends ErrorCode>(
  code: C,
  extra: { details?: Record<string, unknown>; cause?: unknown },
  ...args: MessageArgs<C>
): SwitchyardError {
  const spec: ErrorSpec = Errors[code]
  return new SwitchyardError(code, spec.status, (spec.message as (...a: unknown[]) => string)(...args), extra)
}

/** Branch on the code, not on instanceof: more than one copy of this module can be loaded. */
export function isGatewayError(err: unknown): err is SwitchyardError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' &&
    (err as { code: string }).code in Errors && typeof (err as { status?: unknown }).status === 'number'
}

export interface ErrorResponse {
  readonly status: number
  /** Open Inference Protocol error body, plus our stable `code` and any details. */
  readonly body: { error: string; code: string } & Record<string, unknown>
}

/**
 * The one mapping from an error to a response, used by the data plane and the control plane.
 * Unknown errors become 500 INTERNAL and are not described to the client.
 */
export function toErrorResponse(err: unknown): ErrorResponse {
  if (isGatewayError(err)) {
    return { status: err.status, body: { error: err.message, code: err.code, ...err.details } }
  }
  const internal = gatewayError('INTERNAL')
  return { status: internal.status, body: { error: internal.message, code: internal.code } }
}
