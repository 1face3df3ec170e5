/**
 * Issue #17, points 1 and 2 on the embedded store: route revisions live in SQLite, so a
 * restart keeps the history and the numbering, and a rollback needs no writable routes.yaml.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, get, makeRepository, post, startGateway } from './helpers.js'

const ALL_V1 = 'routes:\n  credit-risk:\n    split: { v1: 100 }\n'
const ALL_V2 = 'routes:\n  credit-risk:\n    split: { v2: 100 }\n'
const ALL_V3 = 'routes:\n  credit-risk:\n    split: { v3: 100 }\n'
let repo: string
let dir: string
const routesPath = () => join(dir, 'routes.yaml')

beforeAll(() => {
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
  dir = mkdtempSync(join(tmpdir(), 'switchyard-revisions-'))
})

afterAll(() => {
  chmodSync(dir, 0o755)
  rmSync(repo, { recursive: true, force: true })
  rmSync(dir, { recursive: true, force: true })
})

const start = () => startGateway({ modelsDir: repo, routesPath: routesPath(), store: `sqlite:${join(dir, 'store.db')}`, spillDir: join(dir, 'spill') })

describe('route revisions in SQLite', () => {
  it('keeps the history and the numbering across a restart', async () => {
    writeFileSync(routesPath(), ALL_V1)
    let gw = await start()
    try {
      writeFileSync(routesPath(), ALL_V2)
      const applied = await post(`${gw.url}/admin/routes/reload`, {})
      expect(applied.body).toMatchObject({ result: 'applied', revision: { number: 2 } })
    } finally {
      await gw.close()
    }
    gw = await start()
    try {
      const state = (await get(`${gw.url}/admin/routes`)).body
      expect(state.revision.number).toBe(2) // the same file: the same revision, not a new 1
      expect(state.history.map((r: { number: number }) => r.number)).toEqual([1, 2])
      writeFileSync(routesPath(), ALL_V1)
      const again = await post(`${gw.url}/admin/routes/reload`, {})
      expect(again.body.revision.number).toBe(3)
    } finally {
      await gw.close()
    }
  })

  it('rolls back without writing routes.yaml, and the rollback holds across a restart until the file changes', async () => {
    let gw = await start()
    const before = readFileSync(routesPath(), 'utf8')
    chmodSync(routesPath(), 0o444)
    chmodSync(dir, 0o555) // as a read-only ConfigMap mount: nothing can be written beside it either
    try {
      const res = await post(`${gw.url}/admin/routes/rollback`, { revision: 2 })
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ result: 'applied', revision: { number: 4, sha256: expect.any(String), rollbackOf: 2, origin: 'rollback' } })
      const predict = await post(`${gw.url}/v1/models/credit-risk/predict`, { instances: creditRecords(1, 5) })
      expect(predict.headers.get('x-model-version')).toBe('v2')
      const state = (await get(`${gw.url}/admin/routes`)).body
      expect(state.file).toMatchObject({ differs_from_revision_in_force: true })
    } finally {
      await gw.close()
      chmodSync(dir, 0o755)
    }
    expect(readFileSync(routesPath(), 'utf8')).toBe(before)
    gw = await start()
    try {
      expect((await get(`${gw.url}/admin/routes`)).body.revision.number).toBe(4)
      chmodSync(routesPath(), 0o644)
      writeFileSync(routesPath(), `${ALL_V1}# edited\n`)
      expect((await post(`${gw.url}/admin/routes/reload`, {})).body.revision.number).toBe(5)
    } finally {
      await gw.close()
    }
  })

  it('refuses to archive a version the revision in force routes to, through a replica that could not apply it', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'switchyard-guard-'))
    const full = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' } })
    const file = join(shared, 'routes.yaml')
    writeFileSync(file, ALL_V1)
    const options = { routesPath: file, store: `sqlite:${join(shared, 'store.db')}` }
    const a = await startGateway({ ...options, modelsDir: full, spillDir: join(shared, 'spill-a') })
    const b = await startGateway({ ...options, modelsDir: repo, spillDir: join(shared, 'spill-b') }) // no v3 here
    try {
      writeFileSync(file, ALL_V3)
      expect((await post(`${a.url}/admin/routes/reload`, {})).body.result).toBe('applied')
      const deadline = Date.now() + 2_000
      while (b.gateway.routes.lastRejection?.revision == null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(b.gateway.routes.current.revision.number).not.toBe(a.gateway.routes.current.revision.number) // b serves its last good table
      await expect(b.gateway.lifecycle.request('credit-risk', 'v3', 'Archived', 'alice', null)).rejects.toMatchObject({ code: 'VERSION_TAKES_LIVE_TRAFFIC' })
    } finally {
      await b.close()
      await a.close()
      rmSync(full, { recursive: true, force: true })
      rmSync(shared, { recursive: true, force: true })
    }
  })
})
