/**
 * createGateway(): the public entry. Wires the model pool, the route table, the mirrors,
 * the data plane and the control plane onto one node:http server, and the Open Inference
 * Protocol's gRPC service onto its own port (unless --grpc-port 0). Both listen at once; versions load in the background and report their state (GET /v1/models,
 * /v2/health/ready).
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolveOptions } from './config/options.js'
import { watchModelRepository, watchRoutesFile } from './config/watch.js'
import type { GatewayOptions } from './config/options.js'
import { createControlPlane } from './http/control-plane.js'
import { createDataPlane, dataPlaneHandlers } from './http/data-plane.js'
import { GrpcServer } from './grpc/grpc-server.js'
import { httpInferenceHandlers } from './http/inference-handler.js'
import { createInference } from './pipeline/inference.js'
import { versionChoice } from './router/version-choice.js'
import { Connections, TIMEOUT_CHECK_INTERVAL_MS } from './http/connections.js'
import { InferenceLog } from './inference-log/inference-log.js'
import { SentInVersions } from './inference-log/sent-in-versions.js'
import { privacyOf } from './inference-log/privacy.js'
import { parseStoreSpec } from './store/store-spec.js'
import { Guard } from './auth/guard.js'
import { TokenStore } from './auth/tokens.js'
import { gatewayActivity } from './lifecycle/gateway-activity.js'
import { Lifecycle } from './lifecycle/lifecycle.js'
import { createLogger, flushLogs } from './log.js'
import { DriftMonitor } from './drift/drift-monitor.js'
import { DEFAULT_PSI_THRESHOLD } from './drift/drift.js'
import { seedReferenceProfiles } from './drift/reference-files.js'
import type { Logger } from './log.js'
import { GatewayMetrics } from './metrics/metrics.js'
import type { MetricSources } from './metrics/metrics.js'
import { MirrorRunner } from './mirrors/mirror-runner.js'
import { Mirrors } from './mirrors/mirrors.js'
import { liveTraffic } from './router/live-traffic.js'
import { RevisionStore } from './router/revision-store.js'
import { logRoutesOutcome, RoutesHolder } from './router/routes-holder.js'
import { RoutesChecker } from './config/routes-checker.js'
import { ModelPool } from './runtime/model-pool.js'
import { SERVER_INFO } from './version.js'

export interface Gateway {
  readonly options: GatewayOptions
  readonly server: Server
  /** The gRPC service; null when --grpc-port is 0. */
  readonly grpc: GrpcServer | null
  readonly pool: ModelPool
  readonly routes: RoutesHolder
  readonly mirrors: Mirrors
  readonly metrics: GatewayMetrics
  readonly inferenceLog: InferenceLog
  readonly sentInVersions: SentInVersions
  readonly lifecycle: Lifecycle
  /** The drift gauge's figures, refreshed each minute. */
  readonly drift: DriftMonitor
  readonly log: Logger
  /** Resolves when every version has finished loading (ready or failed). */
  readonly loaded: Promise<void>
  /** Listen on options.host:options.port (and options.grpcPort); resolves to the HTTP port actually bound. */
  listen(): Promise<number>
  /** Stop accepting (HTTP and gRPC), let in-flight requests and mirrors finish, write every record and log line, release the sessions. */
  close(): Promise<void>
}

const CANARY_TICK_MS = 250 // how often canaries check whether a step is due
export const MIRROR_SETTLE_MS = 5_000 // at stop, how long shadows and challengers in flight may take to finish

/** Where the scrape-time metrics read from. */
function metricSources(pool: ModelPool, routes: RoutesHolder, mirrors: Mirrors): MetricSources {
  return {
    mirrors: () => mirrors.stats().filter((m) => m.role !== 'baseline-check')
      .map(({ model, version, role, stat }) => ({ model, version, role, compared: stat.comparedRows, agreed: stat.agreedRows })),
    routeWeights: () => [...routes.current.routes.values()].flatMap((route) =>
      [...route.weightsNow()].map(([version, percent]) => ({ model: route.model, version, percent }))),
    canaries: () => [...routes.current.routes.values()].flatMap((r) => (r.canary === null ? [] : [{ model: r.model, percent: r.canary.percent, status: r.canary.status }])),
    versionStates: () => pool.models().flatMap((m) => [...m.versions.values()].map((v) => ({ model: m.name, version: v.version, state: v.state }))),
  }
}

export async function createGateway(overrides: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const options = resolveOptions(overrides)
  const log = createLogger(options.logLevel)
  const pool = await ModelPool.scan(options, log)
  const privacy = privacyOf(pool)
  if (options.hashKey === null && Object.values(privacy).some((p) => p.hash.length > 0)) {
    log.warn('model.yaml asks for hashed input fields but SWITCHYARD_HASH_KEY is not set: plain SHA-256 hashes of small domains (ages, codes) can be reversed by trying every value')
  }
  const storeSpec = parseStoreSpec(options.store)
  const inferenceLog = new InferenceLog({
    store: storeSpec,
    spillDir: options.spillDir,
    flushIntervalMs: options.flushIntervalMs,
    maxBuffered: options.maxBufferedRecords,
    maxWriterLagBytes: options.maxWriterLagBytes,
    hashKey: options.hashKey,
    privacy,
    logLevel: options.logLevel,
  }, log)
  const tokens = options.auth ? new TokenStore(options.tokensPath, options.tokensFromEnv ?? undefined) : null
  if (tokens !== null) tokens.onReloadError = (message) => log.error(message)
  const guard = new Guard(tokens)
  if (tokens === null) log.warn('authentication is off (--no-auth): every caller is an anonymous admin; do not run this way in production')
  else if (!tokens.configured) log.warn(`no API tokens are configured in ${options.tokensPath} or SWITCHYARD_TOKENS: admin and lifecycle endpoints answer 401 until you create one with 'switchyard token new --name you --role admin'`)
  let opened: RoutesHolder | null = null // the routes open below, once the lifecycle knows the stages they are checked against
  const stageOf = (m: string, v: string): string | undefined => lifecycle.stages.stageOf(m, v)
  const lifecycle: Lifecycle = new Lifecycle(inferenceLog.store, {
    here: () => (opened === null ? {} : liveTraffic(opened.current, pool, stageOf)),
    inForce: async () => (opened === null ? {} : liveTraffic(await opened.tableInForce(), pool, stageOf)),
  }, log)
  const routesChecker = new RoutesChecker()
  let routes: RoutesHolder
  try {
    await lifecycle.register(pool) // stages are known before routes.yaml is checked against them
    routes = await RoutesHolder.open(options.routesPath, {
      modelNames: () => pool.modelNames(),
      versionsOf: (m) => (pool.hasModel(m) ? pool.getModel(m).versionNames() : undefined),
      stageOf,
    }, routesChecker, storeSpec.kind === 'none' ? null : new RevisionStore(inferenceLog.store, storeSpec))
    opened = routes
  } catch (err) {
    // an invalid routes.yaml at start: stop the store worker, or it would keep the process alive
    lifecycle.close()
    await inferenceLog.close()
    throw err
  }
  const activity = gatewayActivity(lifecycle)
  const versionFolders = () => pool.models().flatMap((m) => [...m.versions.values()].map((v) => ({ model: v.model, version: v.version, dir: v.dir })))
  await seedReferenceProfiles(versionFolders(), inferenceLog.store, log)
  activity.routesApplied(routes.current.revision, 'start')
  const metrics = new GatewayMetrics()
  metrics.routesApplied(routes.current.revision.number)
  pool.isRouted = (model, version) => routes.current.routes.get(model)?.names(version) ?? false
  routes.onOutcome = (outcome, trigger) => {
    logRoutesOutcome(log, outcome, trigger)
    metrics.routesReloaded(outcome.kind, routes.current.revision.number, outcome.kind === 'rejected' ? outcome.rejection.problems.length : 0)
    activity.routesOutcome(outcome, trigger)
    if (outcome.kind === 'applied') activity.versionsRemoved(pool.releaseUnrouted()) // their folders went while they were routed
  }
  routes.onCanaryEvent = activity.canaryEvent
  pool.onLoaded = activity.versionLoaded
  metrics.inferenceLogSource = () => ({
    ...inferenceLog.workerStats, queueDepth: inferenceLog.queueDepth, dropped: inferenceLog.workerStats.dropped + inferenceLog.lost,
    journalFailures: inferenceLog.journalFailures, writerBacklogBytes: inferenceLog.writerBacklogBytes,
  })
  const mirrorRunner = new MirrorRunner(options.maxMirrorsInFlight, log)
  metrics.mirrorsDroppedSource = () => mirrorRunner.dropped
  const mirrors = new Mirrors(mirrorRunner, pool, log, inferenceLog, metrics.serving)
  const choice = versionChoice(pool, routes, stageOf)
  const serveInference = createInference({ choice, mirrors, inferenceLog, metrics: metrics.serving, log }, options)
  const handlers = dataPlaneHandlers(pool, choice, httpInferenceHandlers(serveInference, choice, guard, options))
  metrics.sources = metricSources(pool, routes, mirrors)
  const drift = new DriftMonitor({
    store: inferenceLog.store,
    thresholdOf: (model) => (pool.hasModel(model) ? pool.getModel(model).metadata?.drift?.psi ?? DEFAULT_PSI_THRESHOLD : undefined),
    log,
  })
  metrics.driftSource = () => drift.latest
  drift.start()
  const dataPlane = createDataPlane(pool, handlers, SERVER_INFO, log, (status, code) => metrics.httpErrors.inc({ status: String(status), code }))
  const sentInVersions = new SentInVersions(inferenceLog.store)
  void sentInVersions.refresh()
  const controlPlane = createControlPlane({ pool, modelsDir: options.modelsDir, routes, mirrors, metrics, inferenceLog, sentInVersions, lifecycle, guard, log })
  // Node checks headers and request timeouts this often (its default, 30 s, let a slow client hold a socket for 40 s)
  const server = createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS }, (req, res) => {
    connections.requestArrived(req.socket)
    if (!dataPlane(req, res)) controlPlane(req, res)
  })
  const connections = new Connections(server, { idleTimeoutMs: options.idleTimeoutMs, maxConnections: options.maxConnections })
  const grpc = options.grpcPort === 0 ? null : new GrpcServer({
    serve: serveInference, choice, guard, pool, info: SERVER_INFO, log,
    countError: (status, code) => metrics.grpcErrors.inc({ status, code }),
  }, options)
  metrics.connectionsSource = () => ({ open: connections.size, refused: connections.refused, evicted: connections.evicted })
  pool.onChange = (outcome) => {
    inferenceLog.setPrivacy(privacyOf(pool))
    void lifecycle.register(pool)
    void seedReferenceProfiles(versionFolders(), inferenceLog.store, log)
    activity.versionsRemoved(outcome.removed)
    const problems = routes.recheck()
    if (problems.length > 0) log.warn('the routes in force name versions that are gone from the model repository', { problems })
  }
  const watchers = options.watchRoutes
    ? [watchRoutesFile(options.routesPath, () => void routes.reload('file watch')), watchModelRepository(options.modelsDir, () => void pool.rescan())]
    : []
  const canaryTicker = setInterval(() => routes.tickCanaries(), CANARY_TICK_MS).unref()
  const loaded = pool.loadAll()
  return {
    options,
    server,
    grpc,
    pool,
    routes,
    mirrors,
    metrics,
    inferenceLog,
    sentInVersions,
    lifecycle,
    drift,
    log,
    loaded,
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject)
        server.listen(options.port, options.host, () => {
          server.off('error', reject)
          resolve((server.address() as AddressInfo).port)
        })
      }).then(async (port) => {
        await grpc?.listen()
        return port
      }),
    close: async () => {
      for (const w of watchers) w.close()
      clearInterval(canaryTicker)
      await drift.close()
      await routes.close() // before the checker and the store worker it uses
      await routesChecker.close()
      lifecycle.close()
      sentInVersions.close()
      await Promise.all([connections.close(), grpc?.close()])
      await mirrorRunner.settle(MIRROR_SETTLE_MS)
      await mirrorRunner.close()
      await inferenceLog.close()
      await pool.close()
      await flushLogs() // lines are written asynchronously (log.ts): all of them before close() resolves
    },
  }
}

export type { GatewayOptions } from './config/options.js'
