/**
 * Issue #14, findings 2, 4, 5 and 7: traffic never moves to a version nobody chose. A
 * routes.yaml that is empty, half-written, gone or unreadable after a good one is a recorded
 * rejection, not "no routes"; a model without a route is served only by a version approved
 * for Production; a pin never reaches an Archived version; and checking a large file never
 * holds a request up.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { creditRecords, eventually, get, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const GOOD = 'routes:\n  credit-risk:\n    split: { v1: 100 }\n    pin: header:x-pin\n    shadow: { v3: 25 }\n'
const record = creditRecords(1, 3)[0]
let dir: string
let routesPath: string
let gw: Running

const routed = (headers: Record<string, string> = {}) => post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [record] }, headers)
const reload = async () => post(`${gw.url}/admin/routes/reload`, {})
const rejectedReloads = async () => {
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  return Number(/^switchyard_config_reloads_total\{result="rejected"\} (\d+)/m.exec(text)?.[1] ?? 0)
}

/** Replace routes.yaml by whatever `make` puts at its path. */
function replaceFile(make: (path: string) => void): void {
  rmSync(routesPath, { recursive: true, force: true })
  make(routesPath)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-routes-safety-'))
  routesPath = join(dir, 'routes.yaml')
  writeFileSync(routesPath, GOOD)
  const repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' } })
  gw = await startGateway({ modelsDir: repo, routesPath, store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill') })
})
afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('a routes.yaml that says nothing, after a good one', () => {
  beforeEach(async () => {
    replaceFile((p) => writeFileSync(p, GOOD))
    await reload()
  })

  const aliasBomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`), 'routes: {}'].join('\n')

  it.each([
    ['empty', (p: string) => writeFileSync(p, ''), /empty or only comments/],
    ['only comments', (p: string) => writeFileSync(p, '# routes go here\n'), /empty or only comments/],
    ['cut short while saving', (p: string) => writeFileSync(p, 'routes:\n  credit-risk:\n    split: { v3: 10'), /YAML syntax/],
    ['without a routes: key', (p: string) => writeFileSync(p, 'credit-risk:\n  split: { v3: 100 }\n'), /unknown key 'credit-risk'/],
    ['a __proto__ model', (p: string) => writeFileSync(p, 'routes:\n  __proto__:\n    split: { v3: 100 }\n'), /the key '__proto__' is not allowed/],
    ['an alias bomb', (p: string) => writeFileSync(p, aliasBomb), /YAML: Excessive alias count/],
    ['deleted', () => undefined, /does not exist; the last good routes still serve\. To remove every route, write 'routes: \{\}'/],
    ['a directory', (p: string) => mkdirSync(p), /is a directory, not a file/],
    ['a symbolic link loop', (p: string) => symlinkSync(p, p), /loop of symbolic links/],
    ['a FIFO', (p: string) => execFileSync('mkfifo', [p]), /not a regular file/],
    ['over 1 MiB', (p: string) => writeFileSync(p, `routes: {}\n${'#'.repeat(1_100_000)}\n`), /over the limit of 1048576/],
  ])('%s: rejected, recorded and counted; the last good routes still serve', async (_what, make, reason) => {
    const rejectedBefore = await rejectedReloads()
    replaceFile(make)
    const answer = await reload()
    expect(answer.status).toBe(422) // it was 500 for an unreadable file
    expect(answer.body.code).toBe('ROUTES_INVALID')
    const state = (await get(`${gw.url}/admin/routes`)).body
    expect(state.last_rejection.problems.map((p: { message: string }) => p.message).join('\n')).toMatch(reason)
    expect(await rejectedReloads()).toBe(rejectedBefore + 1)
    for (let i = 0; i < 20; i++) {
      const res = await routed()
      expect(res.status).toBe(200)
      expect(res.headers.get('x-model-version')).toBe('v1')
    }
    await eventually(async () => {
      const activity = (await get(`${gw.url}/v1/activity?limit=5`)).body.activity
      expect(activity[0]).toMatchObject({ kind: 'routes-rejected' })
    })
  })
})

describe('a model without a route', () => {
  it('is refused with what to configure while no version is in Production, and served by the Production version once there is one', async () => {
    replaceFile((p) => writeFileSync(p, 'routes: {}\n')) // removing every route is said on purpose
    expect((await reload()).body).toMatchObject({ result: 'applied' })
    const refused = await routed()
    expect(refused.status).toBe(503)
    expect(refused.body.code).toBe('MODEL_NOT_ROUTED')
    expect(refused.body.error).toMatch(/add a route to routes\.yaml, move a version to Production/)

    const lifecycle = gw.gateway.lifecycle
    const request = await lifecycle.request('credit-risk', 'v2', 'Production', 'alice', null)
    await lifecycle.decide(request.id, 'approve', 'bob', null)
    for (let i = 0; i < 10; i++) expect((await routed()).headers.get('x-model-version')).toBe('v2') // not v3, the newest

    // v2 now answers live traffic, so it cannot be archived until the model gets a route
    await expect(lifecycle.request('credit-risk', 'v2', 'Archived', 'alice', null)).rejects.toMatchObject({ code: 'VERSION_TAKES_LIVE_TRAFFIC' })
  })

  it('never reaches an Archived version through a pin', async () => {
    replaceFile((p) => writeFileSync(p, GOOD))
    await reload()
    const lifecycle = gw.gateway.lifecycle
    const request = await lifecycle.request('credit-risk', 'v3', 'Archived', 'alice', null) // a shadow may be archived
    await lifecycle.decide(request.id, 'approve', 'bob', null)
    const pinned = await routed({ 'x-pin': 'v3' })
    expect(pinned.status).toBe(409)
    expect(pinned.body.code).toBe('VERSION_ARCHIVED')
    expect((await routed({ 'x-pin': 'v2' })).headers.get('x-model-version')).toBe('v2')
  })
})

describe('checking a large file', () => {
  it('never holds the request thread up (it was 5-20 s)', async () => {
    const unknown = Array.from({ length: 25_000 }, (_, i) => `  model-${i}:\n    split: { v1: 100 }\n`).join('')
    replaceFile((p) => writeFileSync(p, `routes:\n${unknown}`))
    const delay = monitorEventLoopDelay({ resolution: 5 })
    delay.enable()
    const started = performance.now()
    const answer = await reload()
    delay.disable()
    expect(answer.body.code).toBe('ROUTES_INVALID')
    expect(answer.body.problems.at(-1).message).toBe('and 24900 more problems like these')
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(delay.max / 1e6).toBeLessThan(150) // ms; the whole check runs on the config worker
  })
})

describe('a version folder removed while a route still sends it traffic', () => {
  it('keeps serving it until a routes change lets it go, then drains it', async () => {
    const repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
    const own = join(dir, 'removal-routes.yaml')
    writeFileSync(own, 'routes:\n  credit-risk:\n    split: { v1: 50, v2: 50 }\n')
    const running = await startGateway({ modelsDir: repo, routesPath: own })
    try {
      rmSync(join(repo, 'credit-risk', 'v2'), { recursive: true })
      expect((await running.gateway.pool.rescan()).removed).toEqual([]) // not removed: still routed
      const answers = await Promise.all(Array.from({ length: 200 }, () => post(`${running.url}/v1/models/credit-risk/predict`, { instances: [record] })))
      expect(answers.filter((a) => a.status !== 200)).toEqual([]) // 21 of 200 were 404 VERSION_NOT_FOUND
      expect(answers.some((a) => a.headers.get('x-model-version') === 'v2')).toBe(true)
      const state = (await get(`${running.url}/admin/routes`)).body
      expect(state.removed_from_disk_still_routed).toEqual(['credit-risk/v2'])
      expect((await get(`${running.url}/v1/models/credit-risk`)).body.versions.find((v: { version: string }) => v.version === 'v2').removed_from_disk).toBe(true)

      writeFileSync(own, 'routes:\n  credit-risk:\n    split: { v1: 100 }\n')
      expect((await post(`${running.url}/admin/routes/reload`, {})).body).toMatchObject({ result: 'applied' })
      expect((await get(`${running.url}/v1/models/credit-risk`)).body.versions.map((v: { version: string }) => v.version)).toEqual(['v1'])
      expect((await get(`${running.url}/admin/routes`)).body.removed_from_disk_still_routed).toEqual([])
    } finally {
      await running.close()
      rmSync(repo, { recursive: true, force: true })
    }
  })
})
