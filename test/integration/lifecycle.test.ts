/**
 * Issue #6 on a real gateway: every role against every protected endpoint (401 without or
 * with a wrong token, 403 without the right, through otherwise), the two-person stage
 * workflow over HTTP, locks, Archived versions kept out of live traffic, new versions
 * arriving as Unassigned, and the activity log.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { may, ROLES } from '../../src/lifecycle/roles.js'
import type { Permission, Role } from '../../src/lifecycle/roles.js'
import { creditRecords, makeRepository, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const token = (name: string) => `sy_test_${name}`
const USERS: Record<string, Role> = { vera: 'viewer', pete: 'predictor', alice: 'editor', bob: 'approver', root: 'admin', erin: 'editor' }
const TOKENS = Object.entries(USERS).map(([name, role]) => `${name}:${role}:${createHash('sha256').update(token(name)).digest('hex')}`).join(',')
const record = creditRecords(1, 4)[0]

let dir: string
let repo: string
let gw: Running

async function call(method: string, path: string, user: string | null, body?: unknown, rawToken?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (user !== null) headers.authorization = `Bearer ${rawToken ?? token(user)}`
  const res = await fetch(`${gw.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

const routesPath = () => join(dir, 'routes.yaml')

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-lifecycle-gw-'))
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' } })
  writeFileSync(routesPath(), 'routes:\n  credit-risk:\n    split: { v1: 100 }\n')
  gw = await startGateway({
    modelsDir: repo, routesPath: routesPath(), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill'),
    auth: true, tokensPath: join(dir, 'no-tokens-file.yaml'), tokensFromEnv: TOKENS, predictRequiresToken: true,
  })
})

afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Every protected endpoint and the right it needs. */
const PROTECTED: { method: string; path: string; needs: Permission; body?: unknown }[] = [
  { method: 'GET', path: '/v1/models', needs: 'read' },
  { method: 'GET', path: '/v1/models/credit-risk', needs: 'read' },
  { method: 'GET', path: '/v1/models/credit-risk/versions', needs: 'read' },
  { method: 'GET', path: '/v1/models/credit-risk/inferences', needs: 'read' },
  { method: 'GET', path: '/v1/models/credit-risk/compare', needs: 'read' },
  { method: 'GET', path: '/v1/models/credit-risk/timeseries', needs: 'read' },
  { method: 'GET', path: '/admin/routes', needs: 'read' },
  { method: 'GET', path: '/v1/stage-requests', needs: 'read' },
  { method: 'GET', path: '/v1/models/credit-risk/stage-requests', needs: 'read' },
  { method: 'GET', path: '/v1/activity', needs: 'read' },
  { method: 'POST', path: '/v1/models/credit-risk/ground-truth', needs: 'ground-truth', body: [{ inference_id: 'x', label: 1 }] },
  { method: 'POST', path: '/v1/models/credit-risk/inferences', needs: 'send-inferences', body: [{ inference_id: 'x', version: 'v9', inputs: record, outputs: { label: 1, probability: 0.7 } }] },
  { method: 'POST', path: '/v1/models/credit-risk/versions/v1/predict', needs: 'predict', body: { instances: [record] } },
  { method: 'POST', path: '/v1/models/credit-risk/predict', needs: 'predict', body: { instances: [record] } },
  { method: 'POST', path: '/v1/models/credit-risk:predict', needs: 'predict', body: { instances: [Object.values(record)] } },
  { method: 'POST', path: '/v1/models/credit-risk/versions/v1:predict', needs: 'predict', body: { inputs: [Object.values(record)] } },
  { method: 'POST', path: '/v2/models/credit-risk/versions/v1/infer', needs: 'predict', body: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 22], data: Object.values(record) }] } },
  { method: 'POST', path: '/admin/routes/reload', needs: 'reload' },
  { method: 'POST', path: '/admin/models/rescan', needs: 'reload' },
  { method: 'POST', path: '/admin/routes/rollback', needs: 'rollback', body: { revision: 1 } },
  { method: 'POST', path: '/v1/models/credit-risk/versions/v2/stage-requests', needs: 'request', body: { stage: 'Development' } },
  { method: 'POST', path: '/v1/stage-requests/no-such-request/approve', needs: 'approve' },
  { method: 'POST', path: '/v1/stage-requests/no-such-request/reject', needs: 'approve' },
  { method: 'POST', path: '/v1/stage-requests/no-such-request/cancel', needs: 'request' },
  { method: 'POST', path: '/v1/models/credit-risk/versions/v3/lock', needs: 'lock' },
  { method: 'POST', path: '/v1/models/credit-risk/versions/v3/unlock', needs: 'lock' },
  { method: 'POST', path: '/v2/repository/index', needs: 'read' },
  { method: 'POST', path: '/v2/repository/models/credit-risk/unload', needs: 'load' }, // routed: refused with 409, nothing unloaded
  { method: 'POST', path: '/v2/repository/models/no-such-model/load', needs: 'load' },
]

describe('tokens and roles', () => {
  it.each(PROTECTED)('$method $path: 401 without a token or with a wrong one', async (e) => {
    const none = await call(e.method, e.path, null, e.body)
    expect(none.status).toBe(401)
    expect(none.body.code).toBe('AUTH_REQUIRED')
    const wrong = await call(e.method, e.path, 'vera', e.body, 'sy_not_a_token')
    expect(wrong.status).toBe(401)
    expect(wrong.body.code).toBe('AUTH_INVALID')
  })

  it.each(ROLES)('walks the %s role through every protected endpoint', async (role) => {
    const user = Object.keys(USERS).find((u) => USERS[u] === role)!
    for (const e of PROTECTED) {
      const res = await call(e.method, e.path, user, e.body)
      if (may(role, e.needs)) {
        expect([401, 403], `${role} ${e.method} ${e.path} -> ${res.status} ${JSON.stringify(res.body)}`).not.toContain(res.status)
        expect(res.status, `${role} ${e.method} ${e.path}`).toBeLessThan(500)
      } else {
        expect(res.status, `${role} ${e.method} ${e.path}`).toBe(403)
        expect(res.body.code).toBe('FORBIDDEN')
        expect(res.body.error).toContain(role)
      }
    }
  })

  it('leaves health, metrics and the dashboard page open', async () => {
    for (const path of ['/v2/health/ready', '/metrics', '/dashboard']) expect((await fetch(`${gw.url}${path}`)).status).toBe(200)
  })
})

describe('stages through two-person approval', () => {
  it('takes effect only when a different approver approves, and flags a skip', async () => {
    const requested = await call('POST', '/v1/models/credit-risk/versions/v2/stage-requests', 'erin', { stage: 'production', comment: 'ship it' })
    // the role walk above left a pending request for v2; it must be closed first
    if (requested.status === 409) {
      const pending = (await call('GET', '/v1/models/credit-risk/stage-requests', 'vera')).body.requests
      for (const p of pending) await call('POST', `/v1/stage-requests/${p.id}/reject`, 'bob', { comment: 'clearing' })
    }
    const req = requested.status === 201 ? requested : await call('POST', '/v1/models/credit-risk/versions/v2/stage-requests', 'erin', { stage: 'production', comment: 'ship it' })
    expect(req.status).toBe(201)
    expect(req.body.request).toMatchObject({ to_stage: 'Production', requester: 'erin', status: 'pending' })
    expect(req.body.flagged).toContain('Development')
    const id = req.body.request.id
    expect((await call('GET', '/v1/stage-requests', 'vera')).body.requests.map((r: any) => r.id)).toContain(id)
    expect((await call('POST', `/v1/stage-requests/${id}/approve`, 'alice')).body.code).toBe('FORBIDDEN') // an editor may not approve
    const self = await call('POST', `/v1/stage-requests/${id}/cancel`, 'alice')
    expect(self.body.code).toBe('NOT_THE_REQUESTER')
    const ok = await call('POST', `/v1/stage-requests/${id}/approve`, 'bob', { comment: 'looks good' })
    expect(ok.status).toBe(200)
    expect(ok.body.request).toMatchObject({ status: 'approved', decided_by: 'bob' })
    const production = await call('GET', '/v1/models/credit-risk/versions?stage=Production', 'vera')
    expect(production.body.versions.map((v: any) => v.version)).toEqual(['v2'])
    expect((await call('GET', '/v1/models', 'vera')).body.models[0].stages).toMatchObject({ Production: 1 })
  })

  it('refuses an approver approving their own request', async () => {
    const req = await call('POST', '/v1/models/credit-risk/versions/v3/stage-requests', 'bob', { stage: 'Development' })
    expect(req.status).toBe(201)
    const self = await call('POST', `/v1/stage-requests/${req.body.request.id}/approve`, 'bob')
    expect(self.status).toBe(403)
    expect(self.body.code).toBe('SECOND_PERSON_REQUIRED')
    expect((await call('POST', `/v1/stage-requests/${req.body.request.id}/cancel`, 'bob')).body.request.status).toBe('cancelled')
  })

  it('keeps a locked version where it is until an admin unlocks it', async () => {
    expect((await call('POST', '/v1/models/credit-risk/versions/v3/lock', 'root', { comment: 'audit' })).body.version.locked).toBe(true)
    const refused = await call('POST', '/v1/models/credit-risk/versions/v3/stage-requests', 'alice', { stage: 'Staging' })
    expect(refused.status).toBe(409)
    expect(refused.body.code).toBe('VERSION_LOCKED')
    await call('POST', '/v1/models/credit-risk/versions/v3/unlock', 'root')
    expect((await call('POST', '/v1/models/credit-risk/versions/v3/stage-requests', 'alice', { stage: 'Staging' })).status).toBe(201)
  })

  it('filters versions by label, and gives each its training record', async () => {
    const res = await call('GET', '/v1/models/credit-risk/versions?label=mlp-16-relu', 'vera')
    expect(res.body.versions.map((v: any) => v.version)).toEqual(['v3'])
    expect(res.body.versions[0].training).toMatchObject({ algorithm: expect.any(String) })
  })

  it('answers a stage that does not exist with 400', async () => {
    const res = await call('POST', '/v1/models/credit-risk/versions/v1/stage-requests', 'alice', { stage: 'Retired' })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('STAGE_INVALID')
  })
})

describe('stage and traffic', () => {
  it('refuses to archive a version that takes live traffic, naming the route', async () => {
    const res = await call('POST', '/v1/models/credit-risk/versions/v1/stage-requests', 'alice', { stage: 'Archived' })
    expect(res.status).toBe(409)
    expect(res.body.code).toBe('VERSION_TAKES_LIVE_TRAFFIC')
    expect(res.body.error).toContain("route 'credit-risk'")
  })

  it('rejects a routes.yaml that sends live traffic to an Archived version, and allows it as a shadow', async () => {
    const pending = (await call('GET', '/v1/models/credit-risk/stage-requests', 'vera')).body.requests
    for (const p of pending) await call('POST', `/v1/stage-requests/${p.id}/reject`, 'bob')
    const req = await call('POST', '/v1/models/credit-risk/versions/v3/stage-requests', 'alice', { stage: 'Archived', comment: 'superseded' })
    expect(req.status).toBe(201)
    expect((await call('POST', `/v1/stage-requests/${req.body.request.id}/approve`, 'bob')).status).toBe(200)
    writeFileSync(routesPath(), 'routes:\n  credit-risk:\n    split: { v1: 50, v3: 50 }\n')
    const live = await call('POST', '/admin/routes/reload', 'alice')
    expect(live.status).toBe(422)
    expect(live.body.code).toBe('ROUTES_INVALID')
    expect(JSON.stringify(live.body.problems)).toContain('Archived')
    writeFileSync(routesPath(), 'routes:\n  credit-risk:\n    split: { v1: 100 }\n    shadow: { v3: 10 }\n')
    expect((await call('POST', '/admin/routes/reload', 'alice')).status).toBe(200)
  })

  it('registers a new version folder as Unassigned without a restart', async () => {
    cpSync(join(repo, 'credit-risk', 'v1'), join(repo, 'credit-risk', 'v9'), { recursive: true })
    expect((await call('POST', '/admin/models/rescan', 'alice')).status).toBe(200)
    const deadline = Date.now() + 10_000
    let v9: any
    while (Date.now() < deadline) {
      v9 = (await call('GET', '/v1/models/credit-risk/versions?stage=unassigned', 'vera')).body.versions.find((v: any) => v.version === 'v9')
      if (v9) break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(v9).toMatchObject({ stage: 'Unassigned', state: 'ready' })
  })
})

describe('the activity log', () => {
  it('records canary events as they happen', async () => {
    writeFileSync(routesPath(), 'routes:\n  credit-risk:\n    canary: { baseline: v1, candidate: v2, steps: [10, 100], interval: 1h }\n')
    expect((await call('POST', '/admin/routes/reload', 'alice')).status).toBe(200)
    const deadline = Date.now() + 5_000
    let started: any
    while (Date.now() < deadline && started === undefined) {
      started = (await call('GET', '/v1/activity?model=credit-risk', 'vera')).body.activity.find((a: any) => a.kind === 'canary-started')
      if (started === undefined) await new Promise((r) => setTimeout(r, 50))
    }
    expect(started).toMatchObject({ actor: 'system', model: 'credit-risk', detail: { percent: 10 } })
  })

  it('has every kind of change, with who and when, filtered by model and time', async () => {
    const res = await call('GET', '/v1/activity?model=credit-risk&limit=1000', 'vera')
    const kinds = new Set(res.body.activity.map((a: any) => a.kind))
    for (const k of ['version-registered', 'version-loaded', 'stage-requested', 'stage-approved', 'stage-rejected', 'stage-cancelled', 'version-locked', 'version-unlocked']) expect(kinds).toContain(k)
    const all = (await call('GET', '/v1/activity?limit=1000', 'vera')).body.activity
    const allKinds = new Set(all.map((a: any) => a.kind))
    for (const k of ['routes-applied', 'routes-rejected', 'routes-rollback']) expect(allKinds).toContain(k)
    const approval = res.body.activity.find((a: any) => a.kind === 'stage-approved' && a.detail.to === 'Production')
    expect(approval).toMatchObject({ actor: 'bob', version: 'v2', comment: 'looks good' })
    expect(approval.detail.skipped).toEqual(['Development', 'Staging'])
    const future = await call('GET', `/v1/activity?since=${new Date(Date.now() + 60_000).toISOString()}`, 'vera')
    expect(future.body.activity).toEqual([])
  })
})
