/**
 * deploy/k8s read as a cluster would read it, since none runs here: every object against the
 * Kubernetes API's schemas (kubernetes-models, generated from the API's OpenAPI document) and
 * its types (TypeScript's excess-property check catches a misspelt field, which the schemas
 * let through), then against the gateway itself: the options it declares, the paths it
 * serves, the routes it would accept, how long its stop takes, and the Dockerfile's image.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { ISecret } from 'kubernetes-models/v1/Secret'
import type { IService } from 'kubernetes-models/v1/Service'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { TokenStore } from '../../src/auth/tokens.js'
import { checkRoutesSource } from '../../src/config/routes-check.js'
import { formatProblem } from '../../src/config/routes-load.js'
import { DEFAULTS, SERVE_OPTIONS } from '../../src/config/options.js'
import { MIRROR_SETTLE_MS } from '../../src/index.js'
import { CLOSE_TIMEOUT_MS } from '../../src/inference-log/inference-log.js'
import { createLogger } from '../../src/log.js'
import { scanModelRepository } from '../../src/registry/scan.js'
import { parseStoreSpec } from '../../src/store/store-spec.js'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const read = (file: string) => readFileSync(join(HERE, file), 'utf8')

/** Not in kustomization.yaml (applying the folder must not overwrite real secrets), checked all the same. */
const SECRET_EXAMPLE = 'secret.example.yaml'
/** Time the stop allows the requests in flight at SIGTERM to be answered (tiny models answer in milliseconds). */
const IN_FLIGHT_BUDGET_S = 5

interface Manifest {
  readonly file: string
  readonly object: { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> } } & Record<string, unknown>
}

interface Kustomization {
  resources: string[]
  configMapGenerator?: { name: string; files: string[]; options?: { labels?: Record<string, string> } }[]
  generatorOptions?: { disableNameSuffixHash?: boolean }
}
const kustomization = parse(read('kustomization.yaml')) as Kustomization
const generatorFiles = (kustomization.configMapGenerator ?? []).flatMap((g) => g.files)
const manifests: Manifest[] = [
  ...[...kustomization.resources, SECRET_EXAMPLE].flatMap((file) =>
    parseAllDocuments(read(file)).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`)
      return { file, object: doc.toJS() as Manifest['object'] }
    })),
  // what kustomize's configMapGenerator makes: one key a file, named after the file
  ...(kustomization.configMapGenerator ?? []).map((g) => ({
    file: 'kustomization.yaml',
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name, labels: g.options?.labels }, data: Object.fromEntries(g.files.map((f) => [posix.basename(f), read(f)])) },
  })),
]

/** The one object of a kind; the checks below assume one of each. */
function only<T>(kind: string): T {
  const found = manifests.filter((m) => m.object.kind === kind)
  expect(found.map((m) => m.file), `one ${kind}`).toHaveLength(1)
  return found[0].object as T
}

const deployment = only<IDeployment>('Deployment')
const service = only<IService>('Service')
const configMap = only<IConfigMap>('ConfigMap')
const secret = only<ISecret>('Secret')
const hpa = only<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler')
const pdb = only<IPodDisruptionBudget>('PodDisruptionBudget')
const pod = deployment.spec!.template.spec!
const container: IContainer = pod.containers.find((c) => c.name === 'switchyard')!
const podLabels = deployment.spec!.template.metadata!.labels!

/** Each kind's validating model and its type, as kubernetes-models names them. */
const API: Record<string, { model: new (data: never) => { validate(): void }; module: string; type: string }> = {
  'apps/v1 Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'v1 Service': { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1 ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1 Secret': { model: Secret, module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  'autoscaling/v2 HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler, module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', type: 'IHorizontalPodAutoscaler' },
  'policy/v1 PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
}
const apiOf = (m: Manifest) => API[`${m.object.apiVersion} ${m.object.kind}`]

/**
 * Fields no API type declares, found by TypeScript's excess-property check: each object
 * becomes a literal typed with its kind's interface, all compiled in one program in memory
 * (a few seconds). Returns each object's problems.
 */
function unknownFields(objects: readonly Manifest[]): string[][] {
  const file = join(HERE, '__manifests__.ts')
  const imports = objects.map((m, i) => `import type { ${apiOf(m).type} as T${i} } from '${apiOf(m).module}'`)
  const literals = objects.map((m, i) => `export const m${i}: T${i} = ${JSON.stringify(m.object, null, 1)}`)
  const source = [...imports, ...literals].join('\n')
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, types: [], module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022 }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, version) => (name === file ? ts.createSourceFile(name, source, version) : getSourceFile(name, version))
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => name === file || fileExists(name)
  const program = ts.createProgram([file], options, host)
  const compiled = program.getSourceFile(file)!
  const starts = literals.map((_, i) => source.indexOf(`export const m${i}: `))
  const problems: string[][] = objects.map(() => [])
  for (const d of ts.getPreEmitDiagnostics(program, compiled)) {
    const at = d.start ?? 0
    const i = starts.findLastIndex((s) => s <= at)
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ')
    if (i === -1) throw new Error(`the API's types could not be loaded: ${message}`)
    problems[i].push(`${objects[i].file}: ${message}`)
  }
  return problems
}

/** The value the gateway runs with for an option: the Deployment's env when it sets one, else the default. */
function optionValue(key: keyof typeof DEFAULTS): unknown {
  const spec = SERVE_OPTIONS.find((s) => s.key === key)!
  const env = container.env?.find((e) => e.name === spec.env)
  return env?.value === undefined ? DEFAULTS[key] : spec.parse(env.value)
}
const WORKDIR = '/app' // the Dockerfile's final WORKDIR, checked below: relative paths resolve against it
const inPod = (path: string) => posix.resolve(WORKDIR, path)
const mountOf = (volume: string) => container.volumeMounts?.find((m) => m.name === volume)
const volumeOf = (name: string) => pod.volumes?.find((v) => v.name === name)

describe('deploy/k8s against the Kubernetes API', () => {
  it('lists every file of the folder in kustomization.yaml (the Secret example aside)', () => {
    const yamlFiles = readdirSync(HERE).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    expect(generatorFiles.filter((f) => f.includes('=')), 'key=file is not emulated here').toEqual([])
    expect([...kustomization.resources, ...generatorFiles, SECRET_EXAMPLE].sort()).toEqual(yamlFiles.sort())
  })

  it('keeps the ConfigMap\'s name, so a routes change reloads rather than restarts every pod', () => {
    expect(kustomization.generatorOptions?.disableNameSuffixHash).toBe(true)
  })

  it('has only kinds whose schema is known here', () => {
    expect(manifests.filter((m) => apiOf(m) === undefined).map((m) => `${m.file}: ${m.object.apiVersion} ${m.object.kind}`)).toEqual([])
  })

  it('validates every object against its kind\'s schema', () => {
    const failures = manifests.flatMap((m) => {
      try {
        new (apiOf(m).model)(m.object as never).validate()
        return []
      } catch (err) {
        return [`${m.file}: ${(err as Error).message}`]
      }
    })
    expect(failures).toEqual([])
  })

  it('names no field the API does not have, and would catch one misspelt', () => {
    const deploymentManifest = manifests.find((m) => m.object.kind === 'Deployment')!
    const spec = deploymentManifest.object.spec as { template: { spec: Record<string, unknown> } }
    const misspelt = { ...spec, template: { ...spec.template, spec: { ...spec.template.spec, terminationGracePeriod: 45 } } }
    const problems = unknownFields([...manifests, { ...deploymentManifest, object: { ...deploymentManifest.object, spec: misspelt } }])
    expect(problems.slice(0, manifests.length).flat()).toEqual([])
    expect(problems[manifests.length].join('\n')).toMatch(/'"terminationGracePeriod"' does not exist in type 'IPodSpec'/)
  }, 30_000) // a TypeScript program over the API's types
})

describe('deploy/k8s against the gateway', () => {
  it('sets options only in the environment, only ones the gateway declares, with values it accepts', () => {
    // the image's CMD runs as it is: options set as flags too would be read in two places
    expect(container.command).toBeUndefined()
    expect(container.args).toBeUndefined()
    const byEnv = new Map(SERVE_OPTIONS.filter((s) => s.env !== null).map((s) => [s.env!, s]))
    const problems = (container.env ?? []).flatMap((e) => {
      const spec = byEnv.get(e.name)
      if (spec === undefined) return [`${e.name} is no option of src/config/options.ts`]
      if (e.value === undefined) return []
      try {
        spec.parse(e.value)
        return []
      } catch (err) {
        return [`${e.name}: ${(err as Error).message}`]
      }
    })
    expect(problems).toEqual([])
  })

  it('probes the health endpoints on the port the gateway listens on', () => {
    const http = container.ports!.find((p) => p.name === 'http')!
    expect(http.containerPort).toBe(optionValue('port'))
    expect(container.startupProbe?.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' })
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' })
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/v2/health/live', port: 'http' })
  })

  it('opens the gRPC port where the gateway listens for gRPC', () => {
    const grpc = container.ports!.find((p) => p.name === 'grpc')!
    expect(grpc.containerPort).toBe(optionValue('grpcPort'))
  })

  it('publishes every container port through the Service, by name', () => {
    const names = container.ports!.map((p) => p.name)
    expect(service.spec!.ports!.map((p) => p.targetPort)).toEqual(names)
  })

  it('mounts the ConfigMap\'s routes.yaml, as a directory, where the gateway reads its routes', () => {
    const volume = pod.volumes!.find((v) => v.configMap?.name === configMap.metadata!.name)!
    const mount = mountOf(volume.name)!
    // a subPath mount is a copy made at start: the kubelet never updates it
    expect(mount.subPath).toBeUndefined()
    expect(mount.readOnly).toBe(true)
    const item = volume.configMap!.items!.find((i) => posix.join(mount.mountPath, i.path) === inPod(String(optionValue('routesPath'))))
    expect(item, `a ConfigMap item at ${String(optionValue('routesPath'))}`).toBeDefined()
    expect(Object.keys(configMap.data!)).toContain(item!.key)
  })

  it('ships routes the gateway accepts for the models in the image', async () => {
    const models = await scanModelRepository(join(REPO, 'models'), createLogger('silent'))
    const versions = new Map(models.map((m) => [m.name, m.versions.map((v) => v.version)]))
    const checked = checkRoutesSource(configMap.data!['routes.yaml'], { versionsOf: (m) => versions.get(m) })
    expect(checked.ok ? [] : checked.problems.map((p) => formatProblem(p))).toEqual([])
  })

  it('references exactly the Secret keys the example declares', () => {
    const secretName = secret.metadata!.name
    const referenced = new Set<string>()
    for (const e of container.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef
      if (ref !== undefined) {
        expect(ref.name).toBe(secretName)
        referenced.add(ref.key)
      }
    }
    for (const v of pod.volumes ?? []) {
      if (v.secret === undefined) continue
      expect(v.secret.secretName).toBe(secretName)
      for (const item of v.secret.items ?? []) referenced.add(item.key)
    }
    expect([...referenced].sort()).toEqual(Object.keys(secret.stringData!).sort())
  })

  it('reads the tokens file from the Secret, and the example\'s file is one the gateway loads', () => {
    const volume = pod.volumes!.find((v) => v.secret !== undefined)!
    const mount = mountOf(volume.name)!
    const item = volume.secret!.items!.find((i) => posix.join(mount.mountPath, i.path) === inPod(String(optionValue('tokensPath'))))
    expect(item, `a Secret item at ${String(optionValue('tokensPath'))}`).toBeDefined()
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-k8s-'))
    try {
      writeFileSync(join(dir, 'tokens.yaml'), secret.stringData![item!.key])
      expect(new TokenStore(join(dir, 'tokens.yaml'), undefined).configured).toBe(true) // a broken file throws
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('gives every replica the one PostgreSQL store', () => {
    const ref = container.env!.find((e) => e.name === 'SWITCHYARD_STORE')!.valueFrom!.secretKeyRef!
    expect(ref.optional ?? false).toBe(false) // a pod without it would keep a SQLite log of its own
    expect(parseStoreSpec(secret.stringData![ref.key]).kind).toBe('postgres')
  })

  it('writes only to its data volume under a read-only root filesystem', () => {
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true)
    const data = mountOf('data')!
    expect(volumeOf('data')?.emptyDir).toBeDefined()
    expect(data.readOnly ?? false).toBe(false)
    // the journal and spill files; the SQLite file too, should the store be left at its default
    const written = [String(optionValue('spillDir')), String(DEFAULTS.store).replace(/^sqlite:/, '')]
    for (const path of written) expect(inPod(path).startsWith(`${data.mountPath}/`), path).toBe(true)
  })

  it('runs as a numeric non-root user, without privileges', () => {
    expect(pod.securityContext?.runAsNonRoot).toBe(true)
    expect(pod.securityContext?.runAsUser).toBe(1000) // the node images' `node` user, the Dockerfile's USER
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false)
    expect(container.securityContext?.capabilities?.drop).toEqual(['ALL'])
  })

  it('gives the stop time to leave the Service, answer, settle the mirrors and write the log', () => {
    const command = container.lifecycle?.preStop?.exec?.command ?? []
    expect(command.slice(0, 1)).toEqual(['sleep'])
    const preStopS = Number(command[1])
    expect(preStopS).toBeGreaterThanOrEqual(5) // endpoints and every node's proxy must have dropped the pod
    const stopS = IN_FLIGHT_BUDGET_S + MIRROR_SETTLE_MS / 1000 + CLOSE_TIMEOUT_MS / 1000
    expect(preStopS + stopS).toBeLessThanOrEqual(pod.terminationGracePeriodSeconds!)
  })

  it('requests the CPU the HPA scales on, and memory', () => {
    expect(container.resources?.requests?.cpu).toBeDefined()
    expect(container.resources?.requests?.memory).toBeDefined()
    expect(container.resources?.limits?.memory).toBeDefined()
    expect(hpa.spec!.metrics!.map((m) => m.resource?.name)).toEqual(['cpu'])
  })

  it('agrees on labels and names between the Deployment, Service, PDB and HPA', () => {
    const selects = (selector: Record<string, string> | undefined) => {
      expect(selector, 'a selector').toBeDefined()
      for (const [k, v] of Object.entries(selector!)) expect(podLabels[k], k).toBe(v)
    }
    selects(deployment.spec!.selector.matchLabels)
    selects(service.spec!.selector)
    selects(pdb.spec!.selector!.matchLabels)
    expect(hpa.spec!.scaleTargetRef).toEqual({ apiVersion: deployment.apiVersion, kind: deployment.kind, name: deployment.metadata!.name })
    expect(deployment.spec!.replicas).toBe(hpa.spec!.minReplicas)
    expect(deployment.spec!.replicas).toBe(3)
  })
})

describe('the Dockerfile the Deployment runs', () => {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8')
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  const copied = [...finalStage.matchAll(/^COPY (?:--from=\S+ )?(.+) (\S+)$/gm)].flatMap((m) => m[1].split(' ').map((from) => posix.basename(from)))

  it('copies what the runtime needs into /app, and runs serve as node', () => {
    expect(finalStage).toMatch(new RegExp(`^WORKDIR ${WORKDIR}$`, 'm'))
    for (const part of ['node_modules', 'dist', 'package.json', 'models', 'dashboard']) expect(copied, part).toContain(part)
    expect(finalStage).toMatch(/^USER node$/m)
    expect(finalStage).toMatch(/^CMD \["node", "dist\/cli\.js", "serve"\]$/m)
  })

  it('bakes in the model repository the Deployment serves', () => {
    expect(inPod(String(optionValue('modelsDir')))).toBe(`${WORKDIR}/models`)
  })
})
