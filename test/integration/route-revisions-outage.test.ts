/**
 * Issue #17: route revisions while PostgreSQL (a private cluster, so that this test alone stops
 * it) is away. The table in force keeps serving and GET /admin/routes still answers; an edit
 * saved meanwhile is refused with the reason, then recorded and applied once the store is back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, eventually, get, makeRepository, post, startGateway } from './helpers.js'
import { startPrivateCluster } from './postgres.js'
import type { PrivateCluster } from './postgres.js'

const ALL_V1 = 'routes:\n  credit-risk:\n    split: { v1: 100 }\n'
const ALL_V2 = 'routes:\n  credit-risk:\n    split: { v2: 100 }\n'
let cluster: PrivateCluster
let dir: string
let repo: string

beforeAll(async () => {
  cluster = await startPrivateCluster()
  dir = mkdtempSync(join(tmpdir(), 'switchyard-revisions-outage-'))
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
})

afterAll(() => {
  cluster?.destroy()
  rmSync(dir, { recursive: true, force: true })
  rmSync(repo, { recursive: true, force: true })
})

describe('route revisions while the store is down', () => {
  it('keep serving, and record and apply an edit saved meanwhile once the store is back', async () => {
    const routesPath = join(dir, 'routes.yaml')
    writeFileSync(routesPath, ALL_V1)
    const gw = await startGateway({ modelsDir: repo, routesPath, store: cluster.url, spillDir: join(dir, 'spill') })
    const predict = async () => (await post(`${gw.url}/v1/models/credit-risk/predict`, { instances: creditRecords(1, 2) })).headers.get('x-model-version')
    try {
      expect((await get(`${gw.url}/admin/routes`)).body.revision.number).toBe(1)
      cluster.stop()
      writeFileSync(routesPath, ALL_V2)
      const refused = await post(`${gw.url}/admin/routes/reload`, {})
      expect(refused.status).toBe(422)
      expect(refused.body.problems[0].message).toMatch(/the store is unavailable/)
      const state = await get(`${gw.url}/admin/routes`)
      expect(state.status).toBe(200)
      expect(state.body).toMatchObject({ revision: { number: 1 }, history: null })
      expect(await predict()).toBe('v1')
      cluster.start()
      await eventually(async () => expect((await get(`${gw.url}/admin/routes`)).body).toMatchObject({ revision: { number: 2 }, last_rejection: null }), 20_000)
      expect(await predict()).toBe('v2')
    } finally {
      await gw.close()
    }
  })
})
