/**
 * Issue #5, the dashboard, end to end: the built gateway as a process, real traffic from the
 * simulator with ground truth, then the page in headless Chromium (Debian's package, driven
 * by playwright-core). It loads with no console error, its charts and table hold the numbers
 * the API gives, and a screenshot is saved to test/artifacts/dashboard.png. Issue #13: with the
 * comparison held back, the page says "loading…" where it goes, draws the rest, and sends no
 * second call of any kind before the first has answered. Issue #18: traffic and latency over
 * time by version and role, the verdict of the significance test, each version's stage, drift
 * by feature (or that the version has no reference), and a canary's steps and events.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { simulate } from '../../src/cli/simulate.js'
import { ADMIN_TOKEN, AUTH, spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname
const MODELS = new URL('../../models/', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'switchyard-dashboard-'))
let gw: GatewayProcess
let browser: Browser

beforeAll(async () => {
  writeFileSync(join(dir, 'routes.yaml'), `
routes:
  credit-risk:
    champion: v1
    sticky: header:x-customer-id
    challengers: { v2: 100 }
    shadow: { v3: 50 }
`)
  // the sample model, its v3 without the reference.json that gives the others reference data
  cpSync(join(MODELS, 'credit-risk'), join(dir, 'models', 'credit-risk'), { recursive: true })
  rmSync(join(dir, 'models', 'credit-risk', 'v3', 'reference.json'))
  gw = await spawnGateway(['--models', join(dir, 'models'), '--routes', join(dir, 'routes.yaml'), '--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill')])
  // rows shifted from the training data, so that drift shows
  const summary = await simulate({ url: gw.url, model: 'credit-risk', rps: 50, durationMs: 3_000, groundTruthDelayMs: 300, customers: 40, seed: 3, drift: true, token: ADMIN_TOKEN, out: null })
  expect(summary.failed).toBe(0)
  await new Promise((r) => setTimeout(r, 300)) // the last records commit within one flush interval
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
})

afterAll(async () => {
  await browser?.close()
  gw?.child.kill('SIGTERM')
  await gw?.exited()
  rmSync(dir, { recursive: true, force: true })
})

describe('/dashboard in Chromium', () => {
  it('loads with no console error, draws the live numbers, and is saved as a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } })
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`))
    const notFound: string[] = []
    page.on('response', (r) => r.status() === 404 && notFound.push(new URL(r.url()).pathname))
    await page.goto(`${gw.url}/dashboard?model=credit-risk`)
    // the API needs a token: the page asks for one before calling it, keeps it, and draws
    await page.waitForSelector('#login:not([hidden])', { timeout: 20_000 })
    await page.fill('#token', ADMIN_TOKEN)
    await page.click('#login button')
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 })

    const since = new Date(Date.now() - 3_600_000).toISOString()
    const get = async <T>(path: string) => (await (await fetch(`${gw.url}${path}`, { headers: AUTH })).json()) as T
    const api = await get<{
      versions: { version: string; role: string; requests: number; latency_ms: { p99: number }; predictions: { score_histogram: number[] }; ground_truth: { count: number } | null }[]
      significance: { a: string; b: string; p_value: number; significant: boolean }
    }>(`/v1/models/credit-risk/compare?since=${since}&a=v1&b=v2:challenger`)
    const series = await get<{ bucket_seconds: number; points: { version: string; role: string; t: number; requests: number; latency_sum: number }[] }>(
      `/v1/models/credit-risk/timeseries?since=${since}&bucket_seconds=60`)
    const catalog = await get<{ versions: { version: string; stage: string }[] }>('/v1/models/credit-risk/versions')
    type FeatureDrift = { feature: string; psi: number; flagged: boolean }
    const drift = await get<{ n: number; features: FeatureDrift[]; score: FeatureDrift | null }>(`/v1/models/credit-risk/drift?version=v1&since=${since}`)
    const drawn = await page.evaluate(() => {
      const d = (globalThis as unknown as { dashboard: { charts: Record<string, { data: { labels: string[]; datasets: { label: string; data: number[] }[] } }> } }).dashboard
      const pick = (id: string) => ({ labels: d.charts[id].data.labels, datasets: d.charts[id].data.datasets.map((s) => ({ label: s.label, data: s.data })) })
      return {
        traffic: pick('traffic-chart'), latency: pick('latency-chart'), scores: pick('score-chart'), errors: pick('error-chart'),
        rows: [...(globalThis as any).document.querySelectorAll('#versions tbody tr')].map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent as string)),
        activity: [...(globalThis as any).document.querySelectorAll('#activity li')].map((li: any) => li.textContent as string),
        verdict: (globalThis as any).document.querySelector('#verdict').textContent as string,
        stages: [...(globalThis as any).document.querySelectorAll('#stages li')].map((li: any) => [li.dataset.version, li.querySelector('.stage').textContent]),
        latencyOverTime: pick('latency-time-chart'),
        drift: { note: (globalThis as any).document.querySelector('#drift-note').textContent as string, chart: pick('drift-chart') },
      }
    })
    // the versions with reference data (npm run models:build writes it) answer drift: nothing is 404 yet
    expect(problems).toEqual([])
    expect(notFound).toEqual([])
    expect(drawn.activity.some((line) => line.includes('routes-applied'))).toBe(true)

    // latency: one bar a version and role, p99 as the API says
    expect(drawn.latency.labels).toEqual(api.versions.map((v) => `${v.version} ${v.role}`))
    expect(drawn.latency.datasets.find((s) => s.label === 'p99')!.data).toEqual(api.versions.map((v) => v.latency_ms.p99))
    // traffic and latency over time: a line a version and role, each bucket's requests a second and mean latency
    const times = [...new Set(series.points.map((p) => p.t))].sort((a, b) => a - b)
    const keys = [...new Set(series.points.map((p) => `${p.version} ${p.role}`))].sort()
    expect(keys).toEqual(['v1 primary', 'v2 challenger', 'v3 shadow'])
    const line = (value: (p: (typeof series.points)[number]) => number) => keys.map((k) => ({
      label: k, data: times.map((t) => { const p = series.points.find((x) => x.t === t && `${x.version} ${x.role}` === k); return p ? value(p) : 0 }),
    }))
    expect(drawn.traffic.datasets).toEqual(line((p) => p.requests / series.bucket_seconds))
    expect(drawn.latencyOverTime.datasets).toEqual(line((p) => p.latency_sum / p.requests))
    // the verdict: the champion against its challenger, as the significance test has it
    const sig = api.significance
    expect([sig.a, sig.b]).toEqual(['v1:primary', 'v2:challenger'])
    expect(drawn.verdict).toMatch(sig.significant ? /^v[12] (primary|challenger) is better on AUC than v[12] (primary|challenger), p [=<] / : /^no significant difference on AUC yet between v1 primary and v2 challenger \(p = [0-9.]+, n = \d+ and 150 with ground truth\)$/)
    // stages
    expect(drawn.stages).toEqual(catalog.versions.map((v) => [v.version, v.stage]))
    expect(drawn.stages.length).toBe(3)
    // drift of the champion: a bar a feature and the score, each the API's PSI, the flagged ones first
    const columns = new Map([...drift.features, ...(drift.score ? [{ ...drift.score, feature: 'score' }] : [])].map((f) => [f.feature, f]))
    expect([...drawn.drift.chart.labels].sort()).toEqual([...columns.keys()].sort())
    expect(drawn.drift.chart.datasets[0].data).toEqual(drawn.drift.chart.labels.map((f) => columns.get(f)!.psi))
    const flags = drawn.drift.chart.labels.map((f) => columns.get(f)!.flagged)
    expect(flags.some(Boolean)).toBe(true) // the simulation's rows are drifted
    expect(flags).toEqual([...flags].sort((a, b) => Number(b) - Number(a)))
    expect(drawn.drift.chart.labels.length).toBe(23)
    expect(drawn.drift.note).toMatch(new RegExp(`^v1, ${drift.n} inputs against its reference profile: .+ past PSI 0\\.2$`))

    // a version without reference data: drift answers 404, which Chromium logs as a console error
    await page.selectOption('#drift-version', 'v3')
    await page.waitForFunction(() => (globalThis as any).document.querySelector('#drift-note').textContent === 'no reference data for this version (v3)')
    expect(await page.locator('#drift-bars').isHidden()).toBe(true)
    expect(new Set(notFound)).toEqual(new Set(['/v1/models/credit-risk/drift']))
    expect(problems.filter((p) => !p.endsWith('status of 404 (Not Found)'))).toEqual([])
    await page.selectOption('#drift-version', 'v1')
    await page.waitForSelector('#drift-bars:not([hidden])')
    // scores: each line is the API's histogram, in percent
    const challenger = api.versions.find((v) => v.version === 'v2' && v.role === 'challenger')!
    const total = challenger.predictions.score_histogram.reduce((a, b) => a + b, 0)
    expect(drawn.scores.datasets.find((s) => s.label === 'v2 challenger')!.data).toEqual(challenger.predictions.score_histogram.map((n) => (100 * n) / total))
    // the table: a row a version and role, with the requests and the ground-truth counts
    expect(drawn.rows.map((r) => [r[0], r[1], Number(r[2]), Number(r[7])])).toEqual(api.versions.map((v) => [v.version, v.role, v.requests, v.ground_truth?.count ?? 0]))
    expect(challenger.requests).toBe(150)
    expect(challenger.ground_truth!.count).toBe(150)

    await page.waitForFunction(() => (globalThis as any).document.querySelector('#drift-note').textContent.startsWith('v1,'))
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true })
  })

  it('polls each kind of call only after its last answer, and says loading… meanwhile', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } })
    await page.clock.install() // the page's timers run only when the test moves the clock
    await page.addInitScript((token) => (globalThis as any).localStorage.setItem('switchyard-token', token), ADMIN_TOKEN)
    const apiPath = (url: string) => {
      const path = new URL(url).pathname
      return path.startsWith('/v1/') || path.startsWith('/admin/') ? path : null
    }
    const sent = new Map<string, number>()
    const out = new Map<string, number>()
    const mostOut = new Map<string, number>()
    page.on('request', (r) => {
      const path = apiPath(r.url())
      if (path === null) return
      sent.set(path, (sent.get(path) ?? 0) + 1)
      out.set(path, (out.get(path) ?? 0) + 1)
      mostOut.set(path, Math.max(mostOut.get(path) ?? 0, out.get(path)!))
    })
    const answered = (r: { url(): string }) => {
      const path = apiPath(r.url())
      if (path !== null) out.set(path, out.get(path)! - 1)
    }
    page.on('requestfinished', answered)
    page.on('requestfailed', answered)
    // a slow store: the comparison answers only when the test lets it
    let letCompareAnswer!: () => void
    const compareMayAnswer = new Promise<void>((resolve) => (letCompareAnswer = resolve))
    await page.route('**/v1/models/*/compare?*', async (route) => {
      await compareMayAnswer
      await route.continue()
    })
    const compare = '/v1/models/credit-risk/compare'
    const isShown = (selector: string) => page.locator(selector).evaluateAll((els) => els.map((e) => !(e as { hidden: boolean }).hidden))

    await page.goto(`${gw.url}/dashboard?model=credit-risk`)
    await page.waitForSelector('#activity li', { timeout: 20_000 })
    await page.waitForSelector('.loading[data-kind="series"][hidden]', { state: 'attached', timeout: 20_000 })
    expect(await isShown('.loading[data-kind="compare"]')).toEqual([true, true, true, true])
    expect(await page.locator('.loading[data-kind="compare"]').first().textContent()).toBe('loading…')
    expect(await isShown('.loading[data-kind="activity"], .loading[data-kind="routes"]')).toEqual([false, false])
    expect(await page.locator('#route-config').textContent()).toContain('champion')

    await page.clock.runFor(30_000) // six periods of a 5 s timer
    await expect.poll(() => sent.get('/v1/activity')).toBe(2) // the others went on meanwhile (each answer comes after runFor)
    expect(sent.get(compare)).toBe(1)

    letCompareAnswer()
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 })
    expect(await isShown('.loading')).toEqual(Array(11).fill(false))
    expect(await page.locator('#versions tbody tr').count()).toBeGreaterThan(0)
    await page.clock.runFor(6_000)
    await expect.poll(() => sent.get(compare)).toBe(2)
    for (const [path, most] of mostOut) expect([path, most]).toEqual([path, 1])
    await page.close()
  })

  it("draws a canary's steps and events as a timeline, as /admin/routes has them", async () => {
    writeFileSync(join(dir, 'routes.yaml'), `
routes:
  credit-risk:
    canary: { baseline: v1, candidate: v2, steps: [30, 100], interval: 1s, rollback: { min_requests: 5 } }
`)
    expect((await fetch(`${gw.url}/admin/routes/reload`, { method: 'POST', headers: AUTH })).status).toBeLessThan(300)
    type Canary = { status: string; steps: number[]; events: { kind: string; percent: number }[] }
    const canary = async () => ((await (await fetch(`${gw.url}/admin/routes`, { headers: AUTH })).json()) as { routes: Record<string, { canary: Canary | null }> }).routes['credit-risk'].canary
    // a step is judged on the candidate's traffic (docs/routing.md): send some until the last step is reached
    for (let round = 0; round < 10 && (await canary())?.status !== 'complete'; round++) {
      await simulate({ url: gw.url, model: 'credit-risk', rps: 40, durationMs: 1_000, groundTruthDelayMs: 0, customers: 40, seed: 10 + round, token: ADMIN_TOKEN, out: null })
    }
    expect((await canary())?.status).toBe('complete')
    const api = (await canary())!

    const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } })
    await page.addInitScript((token) => (globalThis as any).localStorage.setItem('switchyard-token', token), ADMIN_TOKEN)
    await page.goto(`${gw.url}/dashboard?model=credit-risk`)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 })
    const steps = await page.locator('#canary .canary-steps li').evaluateAll((els) => els.map((e) => [e.textContent, e.className]))
    const events = await page.locator('#canary .canary-events li').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { kind: string } }).dataset.kind))
    expect(steps).toEqual([['30%', 'done'], ['100%', 'done']])
    expect(events).toEqual(api.events.map((e) => e.kind))
    expect(events[0]).toBe('started')
    expect(events.at(-1)).toBe('complete')
    expect(events).toContain('step')
    await page.close()
  })

  it('serves Chart.js itself: the page needs no network beyond the gateway', async () => {
    const res = await fetch(`${gw.url}/dashboard/vendor/chart.umd.min.js`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Chart')
  })
})
