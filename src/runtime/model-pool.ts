/**
 * Every version of every model, with its state (loading, ready, failed and why), its
 * session and its run coalescer. A version that fails to load is reported and never
 * takes the others down.
 */
import { gatewayError } from '../errors.js'
import type { Logger } from '../log.js'
import type { ModelGroupMetadata, VersionMetadata } from '../registry/metadata.js'
import { compareVersionNames } from '../registry/names.js'
import { scanModelFolder, scanModelRepository } from '../registry/scan.js'
import type { ScannedModel, ScannedVersion } from '../registry/scan.js'
import { fetchRemoteMetadata, RemoteRunner } from './remote-runner.js'
import { inThread, RunCoalescer } from './run-coalescer.js'
import type { BatchingPolicy } from './run-coalescer.js'
import type { Runner } from './runner.js'
import { fileSha256, loadSession } from './session.js'
import type { LoadedSession } from './session.js'
import { runsOnSessionThread, SessionThread } from './session-thread.js'
import { compileSignature } from './signature.js'
import type { CompiledSignature } from './signature.js'
import type { TensorSpec } from './tensors.js'

/** 'draining': its folder went (rescan); 'unloading', 'unloaded': POST /v2/repository/models/{model}/unload. */
export type VersionState = 'loading' | 'ready' | 'failed' | 'draining' | 'unloading' | 'unloaded'

export interface ModelPoolOptions {
  readonly modelsDir: string
  readonly coalesce: boolean
  readonly maxRunRows: number
}

export interface RescanOutcome {
  readonly added: string[]
  readonly removed: string[]
  /** Models whose model.yaml changed (task, owner, privacy rules). */
  readonly changed: string[]
  /** Versions loaded again because their version.yaml changed (model.onnx is read once: a changed model is a new folder). */
  readonly reloaded: string[]
}

const REMOTE_TIMEOUT_MS = 2_000 // default for a remote version's answer; version.yaml timeout_ms overrides
const DRAIN_POLL_MS = 20 // how often a removed version checks for runs still in flight
const DRAIN_GRACE_MS = 1_000 // requests that chose the version may still be reading their body
const DRAIN_TIMEOUT_MS = 30_000 // release anyway after this long

export interface LoadOutcome {
  readonly model: ServingModel
  /** The versions whose fresh load failed, with the reason. */
  readonly failed: readonly { version: string; reason: string }[]
}

export class ServingVersion {
  readonly model: string
  readonly version: string
  readonly dir: string
  readonly onnxPath: string
  readonly metadata: VersionMetadata | null
  /** A problem found while scanning (bad version.yaml, no model.onnx); loading reports it. */
  readonly problem: string | null
  state: VersionState = 'loading'
  /**
   * Its folder is gone from the repository but routes.yaml still sends it traffic: it keeps
   * serving from memory until a routes change stops that (issue #14: removing the folder first
   * sent a tenth of routed requests to a 404).
   */
  isRemovedFromDisk = false
  /** Why the version failed; null unless state is 'failed'. */
  reason: string | null = null
  /** The local onnxruntime session; null for a remote version or until loaded. */
  session: LoadedSession | null = null
  /**
   * A heavy version's session thread, which runs its batches; null when they run on the request
   * thread. `session` stays loaded beside it: reloads read its sha256, and its metadata
   * describes the version.
   */
  sessionThread: SessionThread | null = null
  runner: Runner | null = null
  /** Inputs and outputs, from the ONNX file or the upstream's metadata. */
  io: { readonly inputs: readonly TensorSpec[]; readonly outputs: readonly TensorSpec[] } | null = null
  /** The named feature signature, when version.yaml has one and it fits the model. */
  signature: CompiledSignature | null = null
  /** The model and version names as JSON strings, written into every answer. */
  readonly modelJson: string
  readonly versionJson: string
  /** What the scan found in the folder (version.yaml, or its problem): a rescan that finds otherwise reloads the version. */
  readonly scannedAs: string
  /** A later scan whose reload failed while this one kept serving: not tried again until the folder changes once more. */
  rejectedScan: string | null = null

  constructor(scanned: ScannedVersion) {
    this.model = scanned.model
    this.version = scanned.version
    this.dir = scanned.dir
    this.onnxPath = scanned.onnxPath
    this.metadata = scanned.metadata
    this.problem = scanned.problem
    this.modelJson = JSON.stringify(this.model)
    this.versionJson = JSON.stringify(this.version)
    this.scannedAs = scannedAs(scanned)
  }

  get inputs(): readonly TensorSpec[] {
    return this.io?.inputs ?? []
  }

  get outputs(): readonly TensorSpec[] {
    return this.io?.outputs ?? []
  }

  /** The upstream URL of a remote version; null for a local one. */
  get upstream(): string | null {
    return this.metadata?.upstream ?? null
  }

  /** How long a remote version may take to answer (version.yaml timeout_ms). */
  get remoteTimeoutMs(): number {
    return this.metadata?.timeout_ms ?? REMOTE_TIMEOUT_MS
  }
}

export class ServingModel {
  readonly name: string
  metadata: ModelGroupMetadata | null
  /** Versions in natural order; a rescan adds and removes entries. */
  readonly versions: Map<string, ServingVersion>

  constructor(scanned: ScannedModel) {
    this.name = scanned.name
    this.metadata = scanned.metadata
    this.versions = new Map(scanned.versions.map((v) => [v.version, new ServingVersion(v)]))
  }

  /** The versions in the repository (not those only kept serving until routes.yaml lets them go). */
  versionNames(): string[] {
    return [...this.versions.values()].filter((v) => !v.isRemovedFromDisk).map((v) => v.version)
  }

  /** Put versions back in natural order after a rescan added some. */
  sortVersions(): void {
    const sorted = [...this.versions.values()].sort((a, b) => compareVersionNames(a.version, b.version))
    this.versions.clear()
    for (const v of sorted) this.versions.set(v.version, v)
  }

  /** The newest ready version: what GET /v2/models/{model} describes (routed calls follow router/unrouted.ts). */
  newestReadyVersion(): ServingVersion {
    const ready = [...this.versions.values()].filter((v) => v.state === 'ready')
    if (ready.length === 0) throw gatewayError('NO_READY_VERSION', this.name)
    return ready.sort((a, b) => compareVersionNames(b.version, a.version))[0]
  }
}

export class ModelPool {
  readonly #models: Map<string, ServingModel>
  readonly #options: ModelPoolOptions
  readonly #log: Logger
  #isLoaded = false
  /** Set by close(): a load that ends afterwards releases its session at once. */
  #isClosed = false
  /** Aborted by close(): remote versions stop waiting for their upstream's metadata. */
  readonly #stopLoading = new AbortController()
  #rescanning: Promise<RescanOutcome> | null = null
  /** The last of the rescans, loads and unloads, which run one after another (each sees what the previous left). */
  #repositoryChange: Promise<unknown> = Promise.resolve()
  /** Called after a rescan that added or removed versions or changed a model.yaml (routes are re-checked). */
  onChange: ((outcome: RescanOutcome) => void) | null = null
  /** Called when a version has finished loading, ready or failed (the activity log). */
  onLoaded: ((version: ServingVersion) => void) | null = null
  /** Whether the routes in force name a version (split, shadow, label, ...): such a version is not drained when its folder goes. */
  isRouted: (model: string, version: string) => boolean = () => false

  private constructor(scanned: readonly ScannedModel[], options: ModelPoolOptions, log: Logger) {
    this.#options = options
    this.#log = log
    this.#models = new Map(scanned.map((m) => [m.name, new ServingModel(m)]))
  }

  /** Scan the repository; every version starts in state 'loading' until `loadAll` runs. */
  static async scan(options: ModelPoolOptions, log: Logger): Promise<ModelPool> {
    return new ModelPool(await scanModelRepository(options.modelsDir, log), options, log)
  }

  /** Load every version, one at a time (the machine has few cores and the models are small). */
  async loadAll(): Promise<void> {
    for (const model of this.#models.values()) {
      for (const version of model.versions.values()) if (version.state === 'loading') await this.#load(version)
    }
    this.#isLoaded = true
  }

  /**
   * Pick up versions added to or removed from the repository without a restart. New versions
   * load in the background; a removed one stops taking requests at once, drains the runs in
   * flight, then releases its session. A version whose version.yaml changed (a remote
   * version's whole definition; a signature added) loads again beside the one serving, which
   * it replaces once ready; if it fails, the one serving stays. Concurrent calls share one rescan.
   */
  rescan(): Promise<RescanOutcome> {
    this.#rescanning ??= this.#oneAtATime(() => this.#rescan()).finally(() => (this.#rescanning = null))
    return this.#rescanning
  }

  async #rescan(): Promise<RescanOutcome> {
    const scanned = await scanModelRepository(this.#options.modelsDir, this.#log)
    const edited: { model: ServingModel; current: ServingVersion; scanned: ScannedVersion }[] = []
    const added: ServingVersion[] = []
    const removed: ServingVersion[] = []
    const changed: string[] = []
    const seen = new Set<string>()
    for (const sm of scanned) {
      let model = this.#models.get(sm.name)
      if (model === undefined) {
        model = new ServingModel({ ...sm, versions: [] })
        this.#models.set(sm.name, model)
      } else if (JSON.stringify(model.metadata) !== JSON.stringify(sm.metadata)) {
        changed.push(sm.name)
      }
      model.metadata = sm.metadata
      for (const sv of sm.versions) {
        seen.add(`${sm.name}/${sv.version}`)
        const current = model.versions.get(sv.version)
        if (current !== undefined) {
          if (isEdited(current, sv)) edited.push({ model, current, scanned: sv })
          continue
        }
        const version = new ServingVersion(sv)
        model.versions.set(sv.version, version)
        added.push(version)
      }
      model.sortVersions()
    }
    const keptRouted: string[] = []
    for (const model of this.#models.values()) {
      for (const version of [...model.versions.values()]) {
        const key = `${model.name}/${version.version}`
        if (seen.has(key)) {
          version.isRemovedFromDisk = false // put back
          continue
        }
        if (this.isRouted(model.name, version.version)) {
          if (!version.isRemovedFromDisk) keptRouted.push(key)
          version.isRemovedFromDisk = true
          continue
        }
        model.versions.delete(version.version)
        removed.push(version)
      }
      if (model.versions.size === 0 && !scanned.some((m) => m.name === model.name)) this.#models.delete(model.name)
    }
    if (keptRouted.length > 0) {
      this.#log.warn('versions removed from the model repository are still in routes.yaml; they keep serving until a routes change stops sending them traffic', { versions: keptRouted })
    }
    const outcome = { added: added.map((v) => `${v.model}/${v.version}`), removed: removed.map((v) => `${v.model}/${v.version}`), changed, reloaded: [] as string[] }
    const isChange = added.length + removed.length + changed.length + edited.length > 0
    if (isChange) this.#log.info('model repository changed', { ...outcome, edited: edited.map((e) => `${e.current.model}/${e.current.version}`) })
    for (const v of removed) void this.#drain(v)
    for (const v of added) await this.#load(v)
    for (const e of edited) if (await this.#reload(e.model, e.current, e.scanned)) outcome.reloaded.push(`${e.current.model}/${e.current.version}`)
    if (isChange) this.onChange?.(outcome)
    return outcome
  }

  #oneAtATime<T>(change: () => Promise<T>): Promise<T> {
    const run = this.#repositoryChange.then(change)
    this.#repositoryChange = run.catch(() => undefined)
    return run
  }

  /**
   * Triton's load: (re)load a model from its folder. Every version in the folder gets a fresh
   * session (model.onnx and version.yaml read again). A fresh one that loads takes the place of
   * the one serving, which drains; one that fails leaves a serving version as it was (Triton: a
   * failed reload leaves the model unchanged) and otherwise shows as failed. Versions gone from
   * the folder are left to the rescan.
   */
  loadModel(name: string): Promise<LoadOutcome> {
    return this.#oneAtATime(async () => {
      const scanned = await scanModelFolder(this.#options.modelsDir, name, this.#log)
      if (scanned === null) throw gatewayError('MODEL_NOT_IN_REPOSITORY', name, this.#options.modelsDir)
      let model = this.#models.get(name)
      if (model === undefined) {
        model = new ServingModel({ ...scanned, versions: [] })
        this.#models.set(name, model)
      }
      const changed = JSON.stringify(model.metadata) !== JSON.stringify(scanned.metadata) ? [name] : []
      model.metadata = scanned.metadata
      const added: string[] = []
      const failed: { version: string; reason: string }[] = []
      for (const sv of scanned.versions) {
        const serving = model.versions.get(sv.version)
        const fresh = new ServingVersion(sv)
        await this.#load(fresh)
        if (fresh.state === 'failed') failed.push({ version: fresh.version, reason: fresh.reason ?? 'unknown reason' })
        if (serving === undefined) added.push(`${name}/${sv.version}`)
        if (serving === undefined || fresh.state === 'ready' || serving.state !== 'ready') {
          model.versions.set(sv.version, fresh)
          if (serving !== undefined) void this.#drain(serving)
        }
      }
      model.sortVersions()
      if (added.length + changed.length > 0) this.onChange?.({ added, removed: [], changed, reloaded: [] })
      return { model, failed }
    })
  }

  /**
   * Triton's unload: every version of the model stops taking requests at once (503
   * VERSION_UNLOADED), lets its runs in flight finish and releases its session; the model stays
   * in the repository's index until it is loaded again. Whether it may go is the caller's check
   * (live traffic).
   */
  unloadModel(name: string): Promise<ServingModel> {
    return this.#oneAtATime(async () => {
      const model = this.getModel(name)
      const loading = [...model.versions.values()].find((v) => v.state === 'loading')
      if (loading !== undefined) throw gatewayError('VERSION_NOT_READY', name, loading.version, 'loading') // its load would make it ready again
      await Promise.all([...model.versions.values()].filter((v) => v.state !== 'unloaded').map((v) => this.#drain(v, 'unloading')))
      return model
    })
  }

  /**
   * Load `scanned` beside `current` and swap it in; false when `current` was serving and stays:
   * the edit failed to load, or it would change the model under the version's name (another
   * model.onnx or upstream), which only a new version folder may do.
   */
  async #reload(model: ServingModel, current: ServingVersion, scanned: ScannedVersion): Promise<boolean> {
    if (current.state === 'ready') {
      const isSameModel = current.session !== null
        ? scanned.metadata?.upstream === undefined && await fileSha256(scanned.onnxPath).catch(() => null) === current.session.sha256
        : scanned.metadata?.upstream === current.upstream
      if (!isSameModel) return this.#keep(current, scannedAs(scanned), "version.yaml changed, and with it the version's model (model.onnx or upstream); a version's model never changes under its name, so it keeps serving as it was: put the new model in a new version folder")
    }
    const next = new ServingVersion(scanned)
    await this.#load(next)
    if (next.state !== 'ready' && current.state === 'ready') return this.#keep(current, next.scannedAs, `version.yaml changed, but the version fails to load with it (${next.reason}); it keeps serving as it was`)
    next.isRemovedFromDisk = current.isRemovedFromDisk
    model.versions.set(next.version, next) // the requests that chose `current` finish on it
    if (current.state !== 'failed') void this.#drain(current)
    return true
  }

  #keep(current: ServingVersion, rejected: string, message: string): false {
    current.rejectedScan = rejected
    this.#log.error(message, { model: current.model, version: current.version })
    return false
  }

  /** After a routes change: drain the versions whose folders are gone and that no route names any more. */
  releaseUnrouted(): string[] {
    const released: string[] = []
    for (const model of this.#models.values()) {
      for (const version of [...model.versions.values()]) {
        if (!version.isRemovedFromDisk || this.isRouted(model.name, version.version)) continue
        model.versions.delete(version.version)
        released.push(`${model.name}/${version.version}`)
        void this.#drain(version)
      }
    }
    if (released.length > 0) this.#log.info('versions removed from the model repository are no longer routed; draining them', { versions: released })
    return released
  }

  /** Versions whose folders are gone but which routes.yaml still sends traffic to. */
  removedButRouted(): string[] {
    return this.models().flatMap((m) => [...m.versions.values()].filter((v) => v.isRemovedFromDisk).map((v) => `${m.name}/${v.version}`))
  }

  async #drain(version: ServingVersion, state: 'draining' | 'unloading' = 'draining'): Promise<void> {
    version.state = state
    const started = Date.now()
    await new Promise((r) => setTimeout(r, DRAIN_GRACE_MS))
    while ((version.runner?.inFlight ?? 0) > 0 && Date.now() - started < DRAIN_TIMEOUT_MS) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS))
    }
    await releaseSessions(version)
    if (state === 'unloading') {
      version.state = 'unloaded'
      version.reason = null
    }
    this.#log.info('version drained and released', { model: version.model, version: version.version, ms: Date.now() - started })
  }

  async #load(version: ServingVersion): Promise<void> {
    const where = { model: version.model, version: version.version }
    const started = performance.now()
    try {
      if (version.problem !== null) throw new Error(version.problem)
      const signature = version.metadata?.signature
      if (version.upstream !== null) {
        const io = await fetchRemoteMetadata(version.upstream, version.remoteTimeoutMs, this.#stopLoading.signal)
        version.signature = signature === undefined ? null : compileSignature(signature, io.inputs, io.outputs)
        version.io = io
        version.runner = new RemoteRunner(version.upstream, version.remoteTimeoutMs)
      } else {
        const session = await loadSession(version.onnxPath, version.metadata?.sha256, version.metadata?.warmup?.inputs)
        if (session.warmup !== 'ok') {
          this.#log.warn('warm-up run did not complete; the version serves anyway, untimed, so its mirrors run on the mirror worker', { ...where, warmup: session.warmup })
        }
        version.signature = signature === undefined ? null : compileSignature(signature, session.inputs, session.outputs)
        version.session = session
        version.io = session
        if (runsOnSessionThread(version.metadata?.session_thread, session.batchRunMs)) version.sessionThread = await this.#startSessionThread(version, session)
        version.runner = new RunCoalescer(version.sessionThread?.run ?? inThread(session.session), {
          isBatchable: session.isBatchable,
          coalesce: this.#options.coalesce,
          maxRunRows: this.#options.maxRunRows,
          batching: this.#batchingOf(version, session.isBatchable),
        })
      }
      if (this.#isClosed) {
        await releaseSessions(version)
        return
      }
      version.state = 'ready'
      const runsOn = version.session === null ? null : version.sessionThread !== null ? 'session thread' : 'request thread'
      this.#log.info('version ready', { ...where, ms: Math.round(performance.now() - started), remote: version.upstream !== null, runs_on: runsOn })
    } catch (err) {
      version.state = 'failed'
      version.reason = (err as Error).message
      await releaseSessions(version)
      this.#log.error('version failed to load; the other versions are not affected', { ...where, reason: version.reason })
    }
    this.onLoaded?.(version)
  }

  /** The version's session thread, started and warmed; a thread that dies later fails the version. */
  async #startSessionThread(version: ServingVersion, session: LoadedSession): Promise<SessionThread> {
    const where = { model: version.model, version: version.version }
    let thread: SessionThread
    try {
      thread = await SessionThread.start({ onnxPath: version.onnxPath, sha256: session.sha256, warmup: version.metadata?.warmup?.inputs }, `${version.model}/${version.version}`)
    } catch (err) {
      throw new Error(`its session thread failed to start: ${(err as Error).message}`, { cause: err })
    }
    // failed, not restarted: what killed the thread (memory, a crash in the model's kernels) would likely kill the next one too; a load tries again
    thread.onDeath = (why) => {
      if (version.sessionThread !== thread || version.state !== 'ready') return
      version.state = 'failed'
      version.reason = `its session thread died (${why}); load the model again (POST /v2/repository/models/${version.model}/load)`
      this.#log.error('session thread died; the version is failed', { ...where, reason: version.reason })
    }
    return thread
  }

  /** version.yaml's batching, or null (with a warning when it was asked for a model whose runs cannot hold several requests). */
  #batchingOf(version: ServingVersion, isBatchable: boolean): BatchingPolicy | null {
    const batching = version.metadata?.batching
    if (batching === undefined) return null
    if (!isBatchable) {
      this.#log.warn('version.yaml asks for batching, but an input or output has a fixed first dimension: every request runs alone', { model: version.model, version: version.version })
      return null
    }
    return { maxBatchSize: batching.max_batch_size, maxQueueDelayMs: batching.max_queue_delay_ms }
  }

  /** True once every version has finished loading, whether it became ready or failed. */
  get isLoaded(): boolean {
    return this.#isLoaded
  }

  hasModel(model: string): boolean {
    return this.#models.has(model)
  }

  modelNames(): string[] {
    return [...this.#models.keys()]
  }

  models(): ServingModel[] {
    return [...this.#models.values()]
  }

  getModel(model: string): ServingModel {
    const found = this.#models.get(model)
    if (found === undefined) throw gatewayError('MODEL_NOT_FOUND', model, this.modelNames())
    return found
  }

  getVersion(model: string, version: string): ServingVersion {
    const m = this.getModel(model)
    const found = m.versions.get(version)
    if (found === undefined) throw gatewayError('VERSION_NOT_FOUND', model, version, m.versionNames())
    return found
  }

  /** The version if it exists and is ready; null otherwise (for mirrors, which never raise). */
  findReady(model: string, version: string): ServingVersion | null {
    const v = this.#models.get(model)?.versions.get(version)
    return v !== undefined && v.state === 'ready' ? v : null
  }

  /** The version, ready to run; 404 when unknown, 503 while loading or after a failed load. */
  getReadyVersion(model: string, version: string): ServingVersion {
    return assertReady(this.getVersion(model, version))
  }

  /** Releases every session; a version still loading releases its own when it is done (#load), so a stop never waits for a load. */
  async close(): Promise<void> {
    this.#isClosed = true
    this.#stopLoading.abort()
    for (const m of this.#models.values()) {
      for (const v of m.versions.values()) await releaseSessions(v)
    }
  }
}

/** Release the version's session and its session thread, if any; it has no runner afterwards. */
async function releaseSessions(version: ServingVersion): Promise<void> {
  const { session, sessionThread } = version
  version.runner = null
  version.session = null
  version.sessionThread = null
  await Promise.all([session?.session.release().catch(() => undefined), sessionThread?.release()])
}

function scannedAs(scanned: ScannedVersion): string {
  return JSON.stringify([scanned.metadata, scanned.problem])
}

/** The folder's version.yaml is not what `current` was loaded from (nor a reload that failed); a version still loading is left alone. */
function isEdited(current: ServingVersion, scanned: ScannedVersion): boolean {
  if (current.state === 'loading' || current.state === 'draining') return false
  const now = scannedAs(scanned)
  return now !== current.scannedAs && now !== current.rejectedScan
}

export function assertReady(version: ServingVersion): ServingVersion {
  if (version.state === 'ready') return version
  if (version.state === 'failed') throw gatewayError('VERSION_FAILED', version.model, version.version, version.reason ?? 'unknown reason')
  if (version.state === 'unloading' || version.state === 'unloaded') throw gatewayError('VERSION_UNLOADED', version.model, version.version)
  if (version.state === 'draining') throw gatewayError('VERSION_NOT_FOUND', version.model, version.version, [])
  throw gatewayError('VERSION_NOT_READY', version.model, version.version, version.state)
}
