/** Server options: one DEFAULTS constant, overridden by flags and environment (see cli.ts). */

export interface GatewayOptions {
  /** TCP port; 0 picks a free one (tests). */
  port: number
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
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export const DEFAULTS: GatewayOptions = {
  port: 8080,
  host: '0.0.0.0',
  modelsDir: 'models',
  routesPath: 'routes.yaml',
  watchRoutes: true,
  maxMirrorsInFlight: 1_000, // runs
  maxBodyBytes: 1_048_576, // 1 MiB
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
}

export function resolveOptions(overrides: Partial<GatewayOptions>): GatewayOptions {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined))
  return { ...DEFAULTS, ...defined }
}
