/**
 * Every version of every model, with its state (loading, ready, failed and why), its
 * session and its run coalescer. A version that fails to load is reported and never
 * takes the others down.
 */
import { gatewayError } from '../errors.js'
import type { Logger } from '../log.js'
import type { ModelGroupMetadata, VersionMetadata } from '../registry/metadata.js'
import { compareVersionNames } from '../registry/names.js'
import { scanModelRepository } from '../registry/scan.js'
import type { ScannedModel, ScannedVersion } from '../registry/scan.js'
import { RunCoalescer } from './run-coalescer.js'
import { loadSession } from './session.js'
import type { LoadedSession } from './session.js'
import { compileSignature } from './signature.js'
import type { CompiledSignature } from './signature.js'
import type { TensorSpec } from './tensors.js'

export type VersionState = 'loading' | 'ready' | 'failed'

export interface ModelPoolOptions {
  readonly modelsDir: string
  readonly coalesce: boolean
  readonly maxRunRows: number
}

export class ServingVersion {
  readonly model: string
  readonly version: string
  readonly dir: string
  readonly onnxPath: string
  readonly metadata: VersionMetadata | null
  state: VersionState = 'loading'
  /** Why the version failed; null unless state is 'failed'. */
  reason: string | null = null
  session: LoadedSession | null = null
  runner: RunCoalescer | null = null
  /** The named feature signature, when version.yaml has one and it fits the model. */
  signature: CompiledSignature | null = null
  /** The model and version names as JSON strings, written into every answer. */
  readonly modelJson: string
  readonly versionJson: string

  constructor(scanned: ScannedVersion) {
    this.model = scanned.model
    this.version = scanned.version
    this.dir = scanned.dir
    this.onnxPath = scanned.onnxPath
    this.metadata = scanned.metadata
    this.modelJson = JSON.stringify(this.model)
    this.versionJson = JSON.stringify(this.version)
  }

  get inputs(): readonly TensorSpec[] {
    return this.session?.inputs ?? []
  }

  get outputs(): readonly TensorSpec[] {
    return this.session?.outputs ?? []
  }
}

export class ServingModel {
  readonly name: string
  readonly metadata: ModelGroupMetadata | null
  readonly versions: ReadonlyMap<string, ServingVersion>

  constructor(scanned: ScannedModel) {
    this.name = scanned.name
    this.metadata = scanned.metadata
    this.versions = new Map(scanned.versions.map((v) => [v.version, new ServingVersion(v)]))
  }

  versionNames(): string[] {
    return [...this.versions.keys()]
  }

  /** The version a version-less V2 call uses until routes.yaml says otherwise: the newest ready one. */
  defaultVersion(): ServingVersion {
    const ready = [...this.versions.values()].filter((v) => v.state === 'ready')
    if (ready.length === 0) throw gatewayError('NO_READY_VERSION', this.name)
    return ready.sort((a, b) => compareVersionNames(b.version, a.version))[0]
  }
}

export class ModelPool {
  readonly #models: Map<string, ServingModel>
  readonly #scanned: readonly ScannedModel[]
  readonly #options: ModelPoolOptions
  readonly #log: Logger
  #isLoaded = false

  private constructor(scanned: readonly ScannedModel[], options: ModelPoolOptions, log: Logger) {
    this.#scanned = scanned
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
    for (const scanned of this.#scanned) {
      for (const sv of scanned.versions) await this.#load(sv, this.#models.get(scanned.name)!.versions.get(sv.version)!)
    }
    this.#isLoaded = true
  }

  async #load(scanned: ScannedVersion, version: ServingVersion): Promise<void> {
    const where = { model: version.model, version: version.version }
    const started = performance.now()
    try {
      if (scanned.problem !== null) throw new Error(scanned.problem)
      const session = await loadSession(scanned.onnxPath, scanned.metadata?.sha256)
      const signature = scanned.metadata?.signature
      version.signature = signature === undefined ? null : compileSignature(signature, session.inputs, session.outputs)
      version.session = session
      version.runner = new RunCoalescer(session.session, {
        isBatchable: session.isBatchable,
        coalesce: this.#options.coalesce,
        maxRunRows: this.#options.maxRunRows,
      })
      version.state = 'ready'
      this.#log.info('version ready', { ...where, ms: Math.round(performance.now() - started), coalesced: session.isBatchable && this.#options.coalesce })
    } catch (err) {
      version.state = 'failed'
      version.reason = (err as Error).message
      if (version.session !== null) await version.session.session.release().catch(() => undefined)
      version.session = null
      this.#log.error('version failed to load; the other versions are not affected', { ...where, reason: version.reason })
    }
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

  async close(): Promise<void> {
    for (const m of this.#models.values()) {
      for (const v of m.versions.values()) {
        if (v.session !== null) await v.session.session.release().catch(() => undefined)
        v.session = null
        v.runner = null
      }
    }
  }
}

export function assertReady(version: ServingVersion): ServingVersion {
  if (version.state === 'ready') return version
  if (version.state === 'failed') throw gatewayError('VERSION_FAILED', version.model, version.version, version.reason ?? 'unknown reason')
  throw gatewayError('VERSION_NOT_READY', version.model, version.version, version.state)
}
