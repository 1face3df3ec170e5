/**
 * Issue #17: the pod of deploy/k8s/deployment.yaml as a process, since no cluster runs here.
 * The built CLI gets the Deployment's own environment; its paths point into a folder laid
 * out as the kubelet lays out the ConfigMap and Secret volumes (each file a symlink through
 * `..data`), and its store is a real PostgreSQL database. Then what the cluster would do: run
 * every probe, update the ConfigMap as the kubelet does, and stop the pod with SIGTERM.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { createTestDatabase } from '../integration/postgres.js'
import { ADMIN_TOKEN, AUTH, spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const REPO = new URL('../..', import.meta.url).pathname
const manifest = (file: string, kind: string) => parseAllDocuments(readFileSync(join(REPO, 'deploy/k8s', file), 'utf8')).map((d) => d.toJS()).find((o) => o.kind === kind)
const deployment = manifest('deployment.yaml', 'Deployment')
// the switchyard-routes ConfigMap that kustomization.yaml generates from this file
const routesSource = readFileSync(join(REPO, 'deploy/k8s/routes.yaml'), 'utf8')
const pod = deployment.spec.template.spec
const container = pod.containers[0]
const preStopS = Number(container.lifecycle.preStop.exec.command[1])

interface Probe { httpGet: { path: string } }
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef: { key: string } } }

let root: string
let db: Awaited<ReturnType<typeof createTestDatabase>>
let gateway: GatewayProcess
let swaps = 0

/** What the kubelet's AtomicWriter does for a ConfigMap or Secret volume: files in a timestamped folder, `..data` renamed onto it. */
function writeVolume(dir: string, files: Record<string, string>): void {
  const folder = `..2026_12_03_00_00_0${swaps++}.${process.pid}`
  mkdirSync(join(dir, folder), { recursive: true })
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, folder, name), text)
  symlinkSync(folder, join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(`..data/${name}`, join(dir, name))
    } catch { /* there from the first write */ }
  }
}

/** A mount path of the Deployment, inside this test's folder. */
const inRoot = (path: string) => join(root, path)

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'switchyard-pod-'))
  db = await createTestDatabase()
  const mounts = new Map<string, string>(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]))
  for (const volume of pod.volumes) {
    const dir = inRoot(mounts.get(volume.name)!)
    mkdirSync(dir, { recursive: true })
    if (volume.configMap !== undefined) writeVolume(dir, { 'routes.yaml': routesSource })
    // the Secret's tokens.yaml, with a token this test holds
    if (volume.secret !== undefined) writeVolume(dir, { 'tokens.yaml': `tokens:\n  - { name: ops, role: admin, sha256: ${createHash('sha256').update(ADMIN_TOKEN).digest('hex')} }\n` })
  }
  mkdirSync(inRoot('/app'), { recursive: true })
  symlinkSync(join(REPO, 'models'), inRoot('/app/models')) // baked into the image
  const fromSecret: Record<string, string | undefined> = { 'store-url': db.url }
  const env: Record<string, string> = {}
  for (const e of container.env as EnvVar[]) {
    const value = e.value !== undefined ? (e.value.startsWith('/') ? inRoot(e.value) : e.value) : fromSecret[e.valueFrom!.secretKeyRef.key]
    if (value !== undefined) env[e.name] = value
  }
  gateway = await spawnGateway([], env)
}, 60_000)

afterAll(async () => {
  if (gateway?.child.exitCode === null) gateway.child.kill('SIGKILL')
  await db?.drop()
  rmSync(root, { recursive: true, force: true })
})

const routesRevision = async () => ((await (await fetch(`${gateway.url}/admin/routes`, { headers: AUTH })).json()) as { revision: { number: number; sha256: string } }).revision

describe('the Deployment\'s pod as a process', () => {
  it('answers every probe with 200', async () => {
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const res = await fetch(`${gateway.url}${(container[probe] as Probe).httpGet.path}`)
      expect(res.status, probe).toBe(200)
    }
  })

  it('applies a ConfigMap update within seconds, without a restart', async () => {
    const before = await routesRevision()
    const edited = routesSource.replace('split: { v1: 90, v2: 10 }', 'split: { v1: 80, v2: 20 }')
    expect(edited).not.toBe(routesSource)
    writeVolume(inRoot(container.volumeMounts.find((m: { name: string }) => m.name === 'routes').mountPath), { 'routes.yaml': edited })
    const deadline = Date.now() + 5_000
    let after = before
    while (after.number === before.number && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
      after = await routesRevision()
    }
    expect(after.number).toBe(before.number + 1)
    expect(after.sha256).toBe(createHash('sha256').update(edited).digest('hex'))
  })

  it('stops on SIGTERM within the grace period less the preStop sleep, every answer in PostgreSQL', async () => {
    const answers = 50
    for (let i = 0; i < answers; i++) {
      const res = await fetch(`${gateway.url}/v1/models/iris/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] }),
      })
      expect(res.status).toBe(200)
    }
    const started = Date.now()
    gateway.child.kill('SIGTERM')
    expect(await gateway.exited()).toBe(0)
    expect(Date.now() - started).toBeLessThan((pod.terminationGracePeriodSeconds - preStopS) * 1000)
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    try {
      expect(Number((await client.query('SELECT count(*) AS n FROM inferences')).rows[0].n)).toBe(answers)
    } finally {
      await client.end()
    }
  })
})
