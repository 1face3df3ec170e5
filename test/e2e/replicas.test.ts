/**
 * Issue #17, points 1 and 2: three gateway processes on one PostgreSQL and one routes.yaml
 * behave as one. An edit is one revision number on all three; a rollback through any one is
 * in force on all three within 2 s and leaves routes.yaml as it was; a revision naming a
 * version one replica lacks is rejected there alone, which keeps its last good table; and
 * after all three restart, the history is where it was and the numbering goes on.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, makeRepository } from '../integration/helpers.js'
import { createTestDatabase } from '../integration/postgres.js'
import { AUTH, spawnGateway, stopGateways } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const ALL_V1 = 'routes:\n  credit-risk:\n    split: { v1: 100 }\n'
const ALL_V2 = 'routes:\n  credit-risk:\n    split: { v2: 100 }\n'
const ALL_V3 = 'routes:\n  credit-risk:\n    split: { v3: 100 }\n'
const PROPAGATION_MS = 2_000 // the goal, for a revision in the store to reach every replica
const EDIT_MS = 5_000 // an edit also waits for each replica's file watch and its store call (1.0-1.5 s here, on 2 busy cores)

let db: Awaited<ReturnType<typeof createTestDatabase>>
let dir: string
let full: string // v1, v2, v3
let partial: string // v1, v2: the third replica's repository
let replicas: GatewayProcess[] = []
const routesPath = () => join(dir, 'routes.yaml')

const start = () => Promise.all([full, full, partial].map((models, i) =>
  spawnGateway(['--models', models, '--routes', routesPath(), '--store', db.url, '--spill-dir', join(dir, `spill-${i}`)])))

async function stopAll(): Promise<void> {
  await stopGateways(replicas)
  replicas = []
}

const admin = async (r: GatewayProcess): Promise<any> => (await fetch(`${r.url}/admin/routes`, { headers: AUTH })).json()
const post = async (r: GatewayProcess, path: string, body: unknown) => {
  const res = await fetch(`${r.url}${path}`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}
const predict = async (r: GatewayProcess) => {
  const res = await fetch(`${r.url}/v1/models/credit-risk/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: creditRecords(1, 3) }) })
  await res.arrayBuffer()
  return { version: res.headers.get('x-model-version'), revision: Number(res.headers.get('x-routes-revision')) }
}

/** Polls every replica until `done` holds for each; resolves to the milliseconds it took. */
async function untilAll(done: (state: any, r: GatewayProcess) => boolean | Promise<boolean>, withinMs = PROPAGATION_MS): Promise<number> {
  const began = Date.now()
  for (;;) {
    const states = await Promise.all(replicas.map(async (r) => done(await admin(r), r)))
    if (states.every(Boolean)) return Date.now() - began
    if (Date.now() - began > withinMs) throw new Error(`not on every replica within ${withinMs} ms: ${JSON.stringify(await Promise.all(replicas.map(admin)).then((s) => s.map((x) => ({ revision: x.revision, rejection: x.last_rejection }))))}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

beforeAll(async () => {
  db = await createTestDatabase()
  dir = mkdtempSync(join(tmpdir(), 'switchyard-replicas-'))
  full = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' } })
  partial = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
  writeFileSync(routesPath(), ALL_V1)
  replicas = await start()
})

afterAll(async () => {
  await stopAll()
  chmodSync(dir, 0o755)
  for (const d of [dir, full, partial]) rmSync(d, { recursive: true, force: true })
  await db.drop()
})

describe('three replicas on one PostgreSQL', () => {
  it('apply an edit of routes.yaml under one revision number', async () => {
    expect((await Promise.all(replicas.map(admin))).map((s) => s.revision.number)).toEqual([1, 1, 1])
    writeFileSync(routesPath(), ALL_V2)
    const tookMs = await untilAll((s) => s.revision.number === 2, EDIT_MS)
    const states = await Promise.all(replicas.map(admin))
    expect(new Set(states.map((s) => s.revision.sha256)).size).toBe(1)
    expect(states[0].history.map((r: { number: number }) => r.number)).toEqual([1, 2])
    expect(states.map((s) => s.revisions_kept_in)).toEqual(['store', 'store', 'store'])
    for (const r of replicas) expect(await predict(r)).toEqual({ version: 'v2', revision: 2 })
    console.log(`edit applied by all three in ${tookMs} ms`)
  })

  it('put a rollback through one replica in force on all three within 2 s, without writing routes.yaml', async () => {
    const before = { text: readFileSync(routesPath(), 'utf8'), mtimeMs: statSync(routesPath()).mtimeMs }
    chmodSync(routesPath(), 0o444)
    chmodSync(dir, 0o555) // as a ConfigMap mount (root, who runs CI, may still write: the file's text and time say it was not)
    try {
      const res = await post(replicas[1], '/admin/routes/rollback', { revision: 1 })
      expect(res).toMatchObject({ status: 200, body: { result: 'applied', revision: { number: 3, origin: 'rollback', rollbackOf: 1, actor: 'e2e-admin' } } })
      const tookMs = await untilAll((s) => s.revision.number === 3)
      for (const r of replicas) expect(await predict(r)).toEqual({ version: 'v1', revision: 3 })
      const states = await Promise.all(replicas.map(admin))
      expect(states.map((s) => s.file.differs_from_revision_in_force)).toEqual([true, true, true])
      expect({ text: readFileSync(routesPath(), 'utf8'), mtimeMs: statSync(routesPath()).mtimeMs }).toEqual(before)
      console.log(`rollback in force on all three in ${tookMs} ms`)
    } finally {
      chmodSync(dir, 0o755)
      chmodSync(routesPath(), 0o644)
    }
  })

  it('report a revision that names a version missing on one replica there alone, which keeps its last good table', async () => {
    writeFileSync(routesPath(), ALL_V3)
    await untilAll((s, r) => (r === replicas[2] ? s.last_rejection?.revision === 4 : s.revision.number === 4), EDIT_MS)
    const third = await admin(replicas[2])
    expect(third.revision.number).toBe(3)
    expect(third.revision_in_force.number).toBe(4)
    expect(third.last_rejection.problems[0].message).toMatch(/v3/)
    expect(await predict(replicas[2])).toEqual({ version: 'v1', revision: 3 })
    writeFileSync(routesPath(), ALL_V2) // good everywhere again
    await untilAll((s) => s.revision.number === 5 && s.last_rejection === null, EDIT_MS)
  })

  it('keep the history and the numbering when all three restart', async () => {
    await stopAll()
    replicas = await start()
    const states = await Promise.all(replicas.map(admin))
    expect(states.map((s) => s.revision.number)).toEqual([5, 5, 5])
    expect(states[0].history.map((r: { number: number }) => r.number)).toEqual([1, 2, 3, 4, 5])
    writeFileSync(routesPath(), `${ALL_V1}# after the restart\n`)
    await untilAll((s) => s.revision.number === 6, EDIT_MS)
  })
})
