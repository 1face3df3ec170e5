/**
 * GET /openapi.json: every endpoint of the gateway, data plane and control plane, as an
 * OpenAPI 3.1 document built from the zod schemas the endpoints are checked with
 * (repository-routes.ts, config/routes-schema.ts) or described by (api-schemas.ts).
 * openapi.test.ts fails when the data plane or the control plane serves a path that is not
 * listed in ENDPOINTS: a new endpoint is one more line there.
 */
import { z } from 'zod'
import type { Permission } from '../lifecycle/roles.js'
import { RouteSchema } from '../config/routes-schema.js'
import {
  ActivityQuery, CommentBody, CompareQuery, DriftAnswer, DriftQuery, GroundTruthRequest, InferencesQuery, InferRequest, InferResponse, Live, ModelMetadata,
  ModelReady, ModelStageRequestsQuery, NativePredictRequest, NativePredictResponse, Ready, RollbackRequest, RoutedPredictRequest,
  ReferenceSummary, SentInAnswer, SentInQuery, SentInRequest, ServerMetadata, StageRequestBody, StageRequestsQuery, TfModelMetadata, TfModelStatus, TfPredictRequest, TfPredictResponse, TimeseriesQuery,
  VersionsQuery,
} from './api-schemas.js'
import type { QuerySchema } from './api-schemas.js'
import { ReferenceProfileSchema } from '../drift/profile.js'
import { RepositoryIndex, RepositoryIndexRequest, RepositoryLoadRequest, RepositoryUnloadRequest } from './repository-routes.js'

/** Who may call: anyone, a predict token when --predict-requires-token is on, or a token with this right. */
type Access = 'open' | 'predict' | Permission

export interface Endpoint {
  readonly method: 'get' | 'post' | 'put'
  /** OpenAPI's template: /v1/models/{model}/predict */
  readonly path: string
  readonly summary: string
  readonly access: Access
  readonly body?: z.ZodType
  readonly query?: QuerySchema
  /** The success answer's JSON, when it has a schema. */
  readonly answer?: z.ZodType
  /** The success answer's content type when it is not JSON. */
  readonly type?: string
  /** 200 unless this. */
  readonly status?: number
  /** Takes Triton's binary tensor data extension: the JSON, then the inputs' bytes. */
  readonly binary?: true
}

const AdminRoutesAnswer = z.object({
  path: z.string(),
  revision: z.object({ number: z.int(), sha256: z.string() }).catchall(z.unknown()),
  routes: z.record(z.string(), z.object({ config: RouteSchema, labels: z.record(z.string(), z.string()), canary: z.unknown() })),
}).catchall(z.unknown()).describe('also revision_in_force, revisions_kept_in, file, mirrors, last_rejection, route_problems, removed_from_disk_still_routed, history')

/** Every endpoint, in the order the README lists them. */
export const ENDPOINTS: readonly Endpoint[] = [
  // data plane (http/data-plane.ts)
  { method: 'post', path: '/v1/models/{model}/versions/{version}/predict', summary: 'One version: JSON records in, named predictions out', access: 'predict', body: NativePredictRequest, answer: NativePredictResponse },
  { method: 'post', path: '/v1/models/{model}/predict', summary: 'Routed by routes.yaml', access: 'predict', body: NativePredictRequest, answer: NativePredictResponse },
  { method: 'post', path: '/predict', summary: 'Routed by routes.yaml; the body names the model', access: 'predict', body: RoutedPredictRequest, answer: NativePredictResponse },
  { method: 'post', path: '/v1/models/{model}/labels/{label}/predict', summary: 'The version a routes.yaml label names', access: 'predict', body: NativePredictRequest, answer: NativePredictResponse },
  { method: 'post', path: '/v2/models/{model}/infer', summary: 'Open Inference Protocol tensors, routed by routes.yaml (binary tensor data extension too)', access: 'predict', body: InferRequest, answer: InferResponse, binary: true },
  { method: 'post', path: '/v2/models/{model}/versions/{version}/infer', summary: 'Open Inference Protocol tensors, one version (binary tensor data extension too)', access: 'predict', body: InferRequest, answer: InferResponse, binary: true },
  { method: 'get', path: '/v2', summary: 'Server metadata and the protocol extensions served', access: 'open', answer: ServerMetadata },
  { method: 'get', path: '/v2/health/live', summary: 'The process answers', access: 'open', answer: Live },
  { method: 'get', path: '/v2/health/ready', summary: 'Every version has finished loading (503 until then)', access: 'open', answer: Ready },
  { method: 'get', path: '/v2/models/{model}', summary: 'Metadata of the newest ready version', access: 'open', answer: ModelMetadata },
  { method: 'get', path: '/v2/models/{model}/versions/{version}', summary: 'Metadata of one version', access: 'open', answer: ModelMetadata },
  { method: 'get', path: '/v2/models/{model}/ready', summary: 'Whether a version of the model is ready (503 if not)', access: 'open', answer: ModelReady },
  { method: 'get', path: '/v2/models/{model}/versions/{version}/ready', summary: 'Whether the version is ready (503 if not)', access: 'open', answer: ModelReady },
  // TF Serving REST (tf-serving-endpoints.ts); the colon may come escaped as %3A, and :classify and :regress are 400 TF_METHOD_UNSUPPORTED
  { method: 'post', path: '/v1/models/{model}:predict', summary: 'TF Serving predict, routed by routes.yaml', access: 'predict', body: TfPredictRequest, answer: TfPredictResponse },
  { method: 'post', path: '/v1/models/{model}/versions/{version}:predict', summary: 'TF Serving predict, one version', access: 'predict', body: TfPredictRequest, answer: TfPredictResponse },
  { method: 'post', path: '/v1/models/{model}/labels/{label}:predict', summary: 'TF Serving predict, the version a routes.yaml label names', access: 'predict', body: TfPredictRequest, answer: TfPredictResponse },
  { method: 'get', path: '/v1/models/{model}/versions/{version}', summary: "TF Serving model status of one version (the model's is in GET /v1/models/{model})", access: 'open', answer: TfModelStatus },
  { method: 'get', path: '/v1/models/{model}/labels/{label}', summary: 'TF Serving model status of the version a label names', access: 'open', answer: TfModelStatus },
  { method: 'get', path: '/v1/models/{model}/metadata', summary: 'TF Serving metadata (signature_def) of the newest ready version', access: 'open', answer: TfModelMetadata },
  { method: 'get', path: '/v1/models/{model}/versions/{version}/metadata', summary: 'TF Serving metadata (signature_def) of one version', access: 'open', answer: TfModelMetadata },
  { method: 'get', path: '/v1/models/{model}/labels/{label}/metadata', summary: 'TF Serving metadata (signature_def) of the version a label names', access: 'open', answer: TfModelMetadata },
  // Triton's model repository extension (repository-routes.ts)
  { method: 'post', path: '/v2/repository/index', summary: 'Every model and version in models/, with its state', access: 'read', body: RepositoryIndexRequest, answer: RepositoryIndex },
  { method: 'post', path: '/v2/repository/models/{model}/load', summary: "(Re)load the model's folder; 422 MODEL_LOAD_FAILED names the versions that failed", access: 'load', body: RepositoryLoadRequest, answer: RepositoryIndex },
  { method: 'post', path: '/v2/repository/models/{model}/unload', summary: 'Release its sessions (409 while it takes live traffic)', access: 'load', body: RepositoryUnloadRequest, answer: RepositoryIndex },
  // catalog (control-plane.ts)
  { method: 'get', path: '/v1/models', summary: 'The catalog: models, versions, states, stages', access: 'read' },
  { method: 'get', path: '/v1/models/{model}', summary: "A model: versions with state, stage, signature, inputs, outputs and batching; TF Serving's model_version_status too", access: 'read' },
  // routes (admin-routes.ts)
  { method: 'get', path: '/admin/routes', summary: 'The routes in force, mirrors, the last rejection, history', access: 'read', answer: AdminRoutesAnswer },
  { method: 'post', path: '/admin/routes/reload', summary: 'Read routes.yaml again', access: 'reload' },
  { method: 'post', path: '/admin/routes/rollback', summary: 'Make an earlier revision the one in force (every replica of the store)', access: 'rollback', body: RollbackRequest },
  { method: 'post', path: '/admin/models/rescan', summary: 'Pick up version folders added to or removed from models/', access: 'reload' },
  // inference log (inference-log-routes.ts)
  { method: 'post', path: '/v1/models/{model}/inferences', summary: 'Inferences made elsewhere, stored once each; bad items answered one by one', access: 'send-inferences', body: SentInRequest, query: SentInQuery, answer: SentInAnswer },
  { method: 'post', path: '/v1/models/{model}/ground-truth', summary: 'Late labels or values for recorded inferences', access: 'ground-truth', body: GroundTruthRequest },
  { method: 'get', path: '/v1/models/{model}/inferences', summary: 'The inference log, a page at a time', access: 'read', query: InferencesQuery },
  // comparison (compare-routes.ts)
  { method: 'get', path: '/v1/models/{model}/compare', summary: 'Versions side by side over a window; a and b tested for a significant difference', access: 'read', query: CompareQuery },
  { method: 'get', path: '/v1/models/{model}/timeseries', summary: "Requests, errors, latency and agreement over time (the dashboard's charts)", access: 'read', query: TimeseriesQuery },
  // reference data and drift (drift-routes.ts, docs/drift.md)
  { method: 'put', path: '/v1/models/{model}/versions/{version}/reference', summary: "Set the version's reference profile (bins and counts, as switchyard reference builds it)", access: 'reload', body: ReferenceProfileSchema, answer: ReferenceSummary },
  { method: 'get', path: '/v1/models/{model}/versions/{version}/reference', summary: "The version's reference profile", access: 'read' },
  { method: 'get', path: '/v1/models/{model}/drift', summary: "PSI and KS or chi-square per feature and for the score, a version's window against its reference, another version or another window", access: 'read', query: DriftQuery, answer: DriftAnswer },
  // lifecycle (lifecycle-routes.ts)
  { method: 'get', path: '/v1/models/{model}/versions', summary: 'Versions with their stage, filtered', access: 'read', query: VersionsQuery },
  { method: 'post', path: '/v1/models/{model}/versions/{version}/stage-requests', summary: 'Ask for a stage change (another person approves)', access: 'request', body: StageRequestBody, status: 201 },
  { method: 'get', path: '/v1/stage-requests', summary: 'Stage requests', access: 'read', query: StageRequestsQuery },
  { method: 'get', path: '/v1/models/{model}/stage-requests', summary: "A model's stage requests", access: 'read', query: ModelStageRequestsQuery },
  { method: 'post', path: '/v1/stage-requests/{id}/approve', summary: "Approve another person's request", access: 'approve', body: CommentBody },
  { method: 'post', path: '/v1/stage-requests/{id}/reject', summary: "Reject another person's request", access: 'approve', body: CommentBody },
  { method: 'post', path: '/v1/stage-requests/{id}/cancel', summary: 'Cancel your own request', access: 'request', body: CommentBody },
  { method: 'post', path: '/v1/models/{model}/versions/{version}/lock', summary: "Lock the version's stage", access: 'lock', body: CommentBody },
  { method: 'post', path: '/v1/models/{model}/versions/{version}/unlock', summary: "Unlock the version's stage", access: 'lock', body: CommentBody },
  { method: 'get', path: '/v1/activity', summary: 'The activity log: stage changes, approvals, routes applied, loads', access: 'read', query: ActivityQuery },
  // the rest (control-plane.ts, dashboard-routes.ts)
  { method: 'get', path: '/', summary: 'Where everything is', access: 'open' },
  { method: 'get', path: '/openapi.json', summary: 'This document', access: 'open' },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', access: 'open', type: 'text/plain' },
  { method: 'get', path: '/docs/', summary: 'The README', access: 'open', type: 'text/markdown' },
  { method: 'get', path: '/docs/{page}', summary: 'A page of docs/ (name.md or name) and its images', access: 'open', type: 'text/markdown' },
  { method: 'get', path: '/dashboard', summary: 'The dashboard page', access: 'open', type: 'text/html' },
  { method: 'get', path: '/dashboard/app.js', summary: "The dashboard's script", access: 'open', type: 'text/javascript' },
  { method: 'get', path: '/dashboard/style.css', summary: "The dashboard's style", access: 'open', type: 'text/css' },
  { method: 'get', path: '/dashboard/vendor/chart.umd.min.js', summary: 'Chart.js, served from node_modules', access: 'open', type: 'text/javascript' },
  { method: 'get', path: '/dashboard/config.json', summary: 'Whether the API the dashboard calls needs a token', access: 'open' },
]

const ErrorBody = z.object({
  error: z.string().describe('what went wrong and how to fix it'),
  code: z.string().describe('a stable code from docs/errors.md'),
}).catchall(z.unknown()).describe('details of some codes sit beside error and code')

/** pipeline/caller-meta.ts: what a caller may attach to an inference for the log. */
const INFERENCE_HEADERS = [
  { name: 'X-Inference-Id', in: 'header', required: false, description: '1 to 128 printable ASCII characters, or an integer: the inference id', schema: { type: 'string' } },
  { name: 'X-Inference-Timestamp', in: 'header', required: false, description: 'when the case happened: ISO 8601 or ms since the epoch', schema: { type: 'string' } },
  { name: 'X-Inference-Attributes', in: 'header', required: false, description: 'name=value pairs joined by &, recorded with the inference', schema: { type: 'string' } },
]
/** http/respond.ts sendAnswer */
const ANSWER_HEADERS = {
  'X-Model-Version': { description: 'the version that answered', schema: { type: 'string' } },
  'X-Model-Role': { description: 'primary (routed) or direct', schema: { type: 'string' } },
  'X-Routes-Revision': { description: 'the routes.yaml revision that chose it (routed calls)', schema: { type: 'string' } },
}
const BINARY_ANSWER = {
  description: 'when outputs are asked for as binary: the JSON answer, then those outputs\' bytes; Inference-Header-Content-Length gives the JSON\'s length',
  schema: { type: 'string', contentMediaType: 'application/octet-stream' },
}
const BINARY_REQUEST = {
  description: 'the JSON request, then each input with parameters.binary_data_size as raw little-endian bytes, in order; any Content-Type',
  schema: { type: 'string', contentMediaType: 'application/octet-stream' },
}

const PATH_PARAMETERS: Readonly<Record<string, string>> = {
  model: 'a model: a folder of models/',
  version: "a version: a folder of the model's",
  label: "a label of the model's route in routes.yaml",
  id: 'a stage request id',
  page: 'a file of docs/',
}

/** The document for this server; built once. */
export function openApiDocument(info: { readonly name: string; readonly version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const e of ENDPOINTS) (paths[e.path] ??= {})[e.method] = operation(e)
  return {
    openapi: '3.1.0',
    info: {
      title: info.name,
      version: info.version,
      description: 'A versioned ONNX model-serving gateway. With --no-auth every caller is an anonymous admin; otherwise every endpoint marked with bearer needs a token with the right named in x-switchyard-permission (docs/lifecycle.md).',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: "a token from 'switchyard token new'" } },
      schemas: { Error: jsonSchema(ErrorBody, 'output') },
    },
  }
}

function operation(e: Endpoint): Record<string, unknown> {
  const names = [...e.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
  const parameters = [
    ...names.map((name) => ({ name, in: 'path', required: true, description: PATH_PARAMETERS[name], schema: { type: 'string' } })),
    ...Object.entries(e.query ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema: jsonSchema(schema, 'input') })),
    ...(e.access === 'predict' ? INFERENCE_HEADERS : []),
    ...(e.binary ? [{ name: 'Inference-Header-Content-Length', in: 'header', required: false, description: 'the length of the JSON request when binary data follows it', schema: { type: 'integer' } }] : []),
  ]
  const success = {
    description: 'OK',
    ...(e.access === 'predict' ? { headers: ANSWER_HEADERS } : {}),
    content: e.answer === undefined ? { [e.type ?? 'application/json']: {} } : {
      'application/json': { schema: jsonSchema(e.answer, 'output') },
      ...(e.binary ? { 'application/octet-stream': { ...BINARY_ANSWER } } : {}),
    },
  }
  const error = { description: 'an error of the catalogue (docs/errors.md)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
  return {
    // a TF Serving verb as a word of its own: {model}:predict is not {model}/predict
    operationId: `${e.method}${e.path.replace(/:/g, '/colon/').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: e.summary,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(e.body === undefined ? {} : {
      requestBody: {
        required: !e.body.safeParse({}).success,
        content: { 'application/json': { schema: jsonSchema(e.body, 'input') }, ...(e.binary ? { 'application/octet-stream': BINARY_REQUEST } : {}) },
      },
    }),
    responses: { [String(e.status ?? 200)]: success, default: error },
    ...security(e.access),
  }
}

function security(access: Access): Record<string, unknown> {
  if (access === 'open') return { security: [] }
  if (access === 'predict') return { security: [{}, { bearer: [] }], 'x-switchyard-permission': 'predict', description: 'A token with the predict right when the gateway runs with --predict-requires-token.' }
  return { security: [{ bearer: [] }], 'x-switchyard-permission': access }
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>
  return rest
}
