/**
 * Server options: one DEFAULTS constant, and one declaration per option (SERVE_OPTIONS) of its
 * flag and environment variable, from which `switchyard serve` parses and writes its --help,
 * and docs/configuration.md is generated. Flags win over the environment, which wins over DEFAULTS.
 */
import { availableParallelism } from 'node:os'
import { LOG_LEVELS } from '../log.js'
import type { LogLevel } from '../log.js'

export interface GatewayOptions {
  /** TCP port; 0 picks a free one (tests). */
  port: number
  /** TCP port of the Open Inference Protocol's gRPC service (grpc/); 0 turns it off. */
  grpcPort: number
  host: string
  /** The model repository: models/<model>/<version>/model.onnx. */
  modelsDir: string
  /** The traffic config; a missing file means no routes. */
  routesPath: string
  /**
   * Apply routes.yaml when it is saved and pick up versions added to or removed from the
   * repository (also on SIGHUP, POST /admin/routes/reload and POST /admin/models/rescan).
   */
  watchRoutes: boolean
  /** Shadow and challenger runs in flight at once; more are dropped and counted. */
  maxMirrorsInFlight: number
  /** Largest request body accepted; larger bodies get 413 BODY_TOO_LARGE. */
  maxBodyBytes: number
  /** How long a connection may stay silent, before its first request and between requests. */
  idleTimeoutMs: number
  /** Most client connections open at once; null: the open-file limit less what the gateway needs (http/connections.ts). */
  maxConnections: number | null
  /** Most rows (instances, or the first dimension of a tensor) in one request. */
  maxRequestRows: number
  /** Most rows one coalesced session.run may hold. */
  maxRunRows: number
  /** Gather concurrent requests for one version into one session.run (ARCHITECTURE.md). */
  coalesce: boolean
  logLevel: LogLevel
  /** The inference log: `sqlite:PATH`, a `postgres://` URL, or `none` (store-spec.ts). */
  store: string
  /** The journal of records not yet stored, and where records wait on disk while the store is unreachable. */
  spillDir: string
  /** Longest time from an answer to its record being in the journal; a kill -9 loses at most this much. */
  flushIntervalMs: number
  /** Records kept in memory while the store is unreachable, before they spill to disk. */
  maxBufferedRecords: number
  /** Bytes of records the idle writer may fall behind (they wait in the journal) before it is hurried. */
  maxWriterLagBytes: number
  /** Key for hashing private input fields (model.yaml privacy.hash); null hashes without a key. */
  hashKey: string | null
  /** Require tokens on admin, lifecycle and data endpoints (false: everyone is an anonymous admin). */
  auth: boolean
  /** The tokens file (auth/tokens.ts); SWITCHYARD_TOKENS adds tokens from the environment. */
  tokensPath: string
  /** Tokens as name:role:sha256,... (the environment's SWITCHYARD_TOKENS). */
  tokensFromEnv: string | null
  /** Prediction endpoints need a token with the predict right too. */
  predictRequiresToken: boolean
  /** Processes serving the ports (node:cluster, cli/cluster.ts); 1 serves from this process alone. */
  workers: number
}


export const DEFAULTS: GatewayOptions = {
  port: 8080,
  grpcPort: 8081, // Triton's HTTP and gRPC ports are 8000 and 8001: ours sit one apart likewise
  host: '0.0.0.0',
  modelsDir: 'models',
  routesPath: 'routes.yaml',
  watchRoutes: true,
  maxMirrorsInFlight: 1_000, // runs
  maxBodyBytes: 1_048_576, // 1 MiB
  idleTimeoutMs: 5_000, // 5 s, Node's own keep-alive timeout
  maxConnections: null,
  maxRequestRows: 1_000, // rows a request
  maxRunRows: 1_024, // rows a coalesced run
  coalesce: true,
  logLevel: 'info',
  store: 'sqlite:data/switchyard.db',
  spillDir: 'data/spill',
  flushIntervalMs: 100, // ms
  maxBufferedRecords: 50_000, // records
  maxWriterLagBytes: 256 * 1024 * 1024, // about 20 s of this machine's full load
  hashKey: null,
  auth: true,
  tokensPath: 'tokens.yaml',
  tokensFromEnv: null,
  predictRequiresToken: false,
  workers: 1,
}

export function resolveOptions(overrides: Partial<GatewayOptions>): GatewayOptions {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined))
  return { ...DEFAULTS, ...defined }
}

/**
 * How one option is set from outside. `flag` is commander's syntax (`--port <n>`, or
 * `--no-watch` for an option that is on by default); null for a secret read only from the
 * environment, where `ps` cannot show it. `parse` reads the flag's or the variable's text
 * and throws an Error whose message says what is expected.
 */
export interface OptionSpec {
  readonly key: keyof GatewayOptions
  readonly flag: string | null
  readonly env: string | null
  /** One line: what it does (the default and the variable are added where it is shown). */
  readonly help: string
  readonly parse: (text: string) => GatewayOptions[keyof GatewayOptions]
  /** How the default reads where its value (null) would say nothing. */
  readonly defaultText?: string
}

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) => (text: string): number => {
  const n = Number(text)
  if (text.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) throw new Error(`must be an integer from ${min} to ${max}, got '${text}'`)
  return n
}
const text = (value: string): string => {
  if (value === '') throw new Error('must not be empty')
  return value
}
/** An on/off environment variable; a flag of its own takes no value. */
const onOff = (value: string): boolean => {
  if (/^(1|true|yes|on)$/i.test(value)) return true
  if (/^(0|false|no|off)$/i.test(value)) return false
  throw new Error(`must be 1 or 0 (true or false), got '${value}'`)
}
/** A count of processes, or `auto`: one a core this process may use. */
const workerCount = (value: string): number => {
  if (value === 'auto') return availableParallelism()
  try {
    return integer(1, 256)(value)
  } catch (err) {
    throw new Error(`must be auto or ${(err as Error).message.replace(/^must be /, '')}`)
  }
}
const logLevel = (value: string): LogLevel => {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new Error(`must be one of ${LOG_LEVELS.join(', ')}, got '${value}'`)
  return value as LogLevel
}

export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { key: 'port', flag: '--port <n>', env: 'SWITCHYARD_PORT', help: 'TCP port to listen on (0 picks a free one)', parse: integer(0, 65_535) },
  { key: 'grpcPort', flag: '--grpc-port <n>', env: 'SWITCHYARD_GRPC_PORT', help: 'TCP port of the Open Inference Protocol over gRPC (inference.GRPCInferenceService); 0 turns it off', parse: integer(0, 65_535) },
  { key: 'host', flag: '--host <address>', env: 'SWITCHYARD_HOST', help: 'address to bind', parse: text },
  { key: 'modelsDir', flag: '--models <dir>', env: 'SWITCHYARD_MODELS', help: 'the model repository: <dir>/<model>/<version>/model.onnx', parse: text },
  { key: 'routesPath', flag: '--routes <file>', env: 'SWITCHYARD_ROUTES', help: 'the traffic config; re-read on save, on SIGHUP and on POST /admin/routes/reload', parse: text },
  { key: 'watchRoutes', flag: '--no-watch', env: 'SWITCHYARD_WATCH', help: 'do not watch routes.yaml and models/ for changes (SIGHUP and the /admin endpoints still apply them)', parse: onOff },
  { key: 'maxBodyBytes', flag: '--max-body-bytes <n>', env: 'SWITCHYARD_MAX_BODY_BYTES', help: 'largest request body; larger ones get 413', parse: integer(1) },
  { key: 'idleTimeoutMs', flag: '--idle-timeout-ms <ms>', env: 'SWITCHYARD_IDLE_TIMEOUT_MS', help: 'a connection silent this long, before its first request or between requests, is closed', parse: integer(100, 3_600_000) },
  { key: 'maxConnections', flag: '--max-connections <n>', env: 'SWITCHYARD_MAX_CONNECTIONS', help: 'most client connections at once; a new one replaces the oldest silent one, or is refused when all are busy', parse: integer(1), defaultText: 'the open-file limit less 128' },
  { key: 'maxRequestRows', flag: '--max-request-rows <n>', env: 'SWITCHYARD_MAX_REQUEST_ROWS', help: 'most rows (instances, or a tensor\'s first dimension) in one request', parse: integer(1) },
  { key: 'maxRunRows', flag: '--max-run-rows <n>', env: 'SWITCHYARD_MAX_RUN_ROWS', help: 'most rows one coalesced model run may hold', parse: integer(1) },
  { key: 'coalesce', flag: '--no-coalesce', env: 'SWITCHYARD_COALESCE', help: 'run every request on its own instead of sharing model runs', parse: onOff },
  { key: 'maxMirrorsInFlight', flag: '--max-mirrors-in-flight <n>', env: 'SWITCHYARD_MAX_MIRRORS_IN_FLIGHT', help: 'shadow and challenger runs in flight at once; more are dropped and counted', parse: integer(0) },
  { key: 'store', flag: '--store <spec>', env: 'SWITCHYARD_STORE', help: 'the inference log and lifecycle store: sqlite:PATH, a postgres:// URL, or none', parse: text },
  { key: 'spillDir', flag: '--spill-dir <dir>', env: 'SWITCHYARD_SPILL_DIR', help: 'the journal of records not yet stored, and where they wait while the store is unreachable', parse: text },
  { key: 'flushIntervalMs', flag: '--flush-interval-ms <ms>', env: 'SWITCHYARD_FLUSH_INTERVAL_MS', help: 'longest time from an answer to its record in the journal; a kill -9 loses at most this much', parse: integer(1, 60_000) },
  { key: 'maxBufferedRecords', flag: '--max-buffered-records <n>', env: 'SWITCHYARD_MAX_BUFFERED_RECORDS', help: 'records held in memory while the store is unreachable, before they spill to disk', parse: integer(1) },
  { key: 'maxWriterLagBytes', flag: '--max-writer-lag-bytes <n>', env: 'SWITCHYARD_MAX_WRITER_LAG_BYTES', help: 'bytes of records the idle-priority writer may fall behind before it is hurried', parse: integer(1) },
  { key: 'hashKey', flag: null, env: 'SWITCHYARD_HASH_KEY', help: 'key of the HMAC-SHA256 that hashes private input fields (model.yaml privacy.hash); unset: plain SHA-256', parse: text },
  { key: 'auth', flag: '--no-auth', env: 'SWITCHYARD_AUTH', help: 'no tokens anywhere: every caller is an anonymous admin (local development only)', parse: onOff },
  { key: 'tokensPath', flag: '--tokens <file>', env: 'SWITCHYARD_TOKENS_FILE', help: 'API tokens as SHA-256 digests (switchyard token new writes them)', parse: text },
  { key: 'tokensFromEnv', flag: null, env: 'SWITCHYARD_TOKENS', help: 'more tokens, as name:role:sha256,...', parse: text },
  { key: 'predictRequiresToken', flag: '--predict-auth', env: 'SWITCHYARD_PREDICT_AUTH', help: 'prediction endpoints need a token with the predict right too', parse: onOff },
  { key: 'workers', flag: '--workers <n>', env: 'SWITCHYARD_WORKERS', help: 'processes sharing the ports, each with its own model sessions; auto: one a core', parse: workerCount },
  { key: 'logLevel', flag: '--log-level <level>', env: 'SWITCHYARD_LOG_LEVEL', help: `log lines at this level and above, JSON on stderr: ${LOG_LEVELS.join(', ')}`, parse: logLevel },
]

/** An option's default as a person reads it. */
export function describeDefault(spec: OptionSpec): string {
  if (spec.defaultText !== undefined) return spec.defaultText
  const value = DEFAULTS[spec.key]
  if (value === null) return 'none'
  if (typeof value === 'boolean') return value ? 'on' : 'off'
  return String(value)
}
