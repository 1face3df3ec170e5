/**
 * Issue #5, the dashboard, end to end: the built gateway as a process, real traffic from the
 * simulator with ground truth, then the page in headless Chromium (Debian's package, driven
 * by playwright-core). It loads with no console error, its charts and table hold the numbers
 * the API gives, and a screenshot is saved to test/artifacts/dashboard.png. Issue #13: with the
 * comparison held back, the page says "loading…" where it goes, draws the rest, and sends no
 * second call of any kind before the first has answered.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { simulate } from '../../src/cli/simulate.js'
import { ADMIN_TOKEN, AUTH, spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname
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
  gw = await spawnGateway(['--routes', join(dir, 'routes.yaml'), '--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill')])
  const summary = await simulate({ url: gw.url, model: 'credit-risk', rps: 50, durationMs: 3_000, groundTruthDelayMs: 300, customers: 40, seed: 3, token: ADMIN_TOKEN, out: null })
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
    await page.goto(`${gw.url}/dashboard?model=credit-risk`)
    // the API needs a token: the page asks for one before calling it, keeps it, and draws
    await page.waitForSelector('#login:not([hidden])', { timeout: 20_000 })
    await page.fill('#token', ADMIN_TOKEN)
    await page.click('#login button')
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 })

    const api = (await (await fetch(`${gw.url}/v1/models/credit-risk/compare?since=${new Date(Date.now() - 3_600_000).toISOString()}`, { headers: AUTH })).json()) as {
      versions: { version: string; role: string; requests: number; latency_ms: { p99: number }; predictions: { score_histogram: number[] }; ground_truth: { count: number } | null }[]
    }
    const drawn = await page.evaluate(() => {
      const d = (globalThis as unknown as { dashboard: { charts: Record<string, { data: { labels: string[]; datasets: { label: string; data: number[] }[] } }> } }).dashboard
      const pick = (id: string) => ({ labels: d.charts[id].data.labels, datasets: d.charts[id].data.datasets.map((s) => ({ label: s.label, data: s.data })) })
      return {
        traffic: pick('traffic-chart'), latency: pick('latency-chart'), scores: pick('score-chart'), errors: pick('error-chart'),
        rows: [...(globalThis as any).document.querySelectorAll('#versions tbody tr')].map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent as string)),
        activity: [...(globalThis as any).document.querySelectorAll('#activity li')].map((li: any) => li.textContent as string),
      }
    })
    expect(problems).toEqual([])
    expect(drawn.activity.some((line) => line.includes('routes-applied'))).toBe(true)

    // latency: one bar a version and role, p99 as the API says
    expect(drawn.latency.labels).toEqual(api.versions.map((v) => `${v.version} ${v.role}`))
    expect(drawn.latency.datasets.find((s) => s.label === 'p99')!.data).toEqual(api.versions.map((v) => v.latency_ms.p99))
    // traffic: the champion takes every primary answer
    const v1 = drawn.traffic.datasets.find((s) => s.label === 'v1')!
    expect(v1.data.length).toBeGreaterThan(0)
    expect(v1.data.every((x) => x === 100)).toBe(true)
    // scores: each line is the API's histogram, in percent
    const challenger = api.versions.find((v) => v.version === 'v2' && v.role === 'challenger')!
    const total = challenger.predictions.score_histogram.reduce((a, b) => a + b, 0)
    expect(drawn.scores.datasets.find((s) => s.label === 'v2 challenger')!.data).toEqual(challenger.predictions.score_histogram.map((n) => (100 * n) / total))
    // the table: a row a version and role, with the requests and the ground-truth counts
    expect(drawn.rows.map((r) => [r[0], r[1], Number(r[2]), Number(r[7])])).toEqual(api.versions.map((v) => [v.version, v.role, v.requests, v.ground_truth?.count ?? 0]))
    expect(challenger.requests).toBe(150)
    expect(challenger.ground_truth!.count).toBe(150)

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
    expect(await isShown('.loading[data-kind="compare"]')).toEqual([true, true, true])
    expect(await page.locator('.loading[data-kind="compare"]').first().textContent()).toBe('loading…')
    expect(await isShown('.loading[data-kind="activity"], .loading[data-kind="routes"]')).toEqual([false, false])
    expect(await page.locator('#route-config').textContent()).toContain('champion')

    await page.clock.runFor(30_000) // six periods of a 5 s timer
    await expect.poll(() => sent.get('/v1/activity')).toBe(2) // the others went on meanwhile (each answer comes after runFor)
    expect(sent.get(compare)).toBe(1)

    letCompareAnswer()
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 })
    expect(await isShown('.loading')).toEqual([false, false, false, false, false, false, false])
    expect(await page.locator('#versions tbody tr').count()).toBeGreaterThan(0)
    await page.clock.runFor(6_000)
    await expect.poll(() => sent.get(compare)).toBe(2)
    for (const [path, most] of mostOut) expect([path, most]).toEqual([path, 1])
    await page.close()
  })

  it('serves Chart.js itself: the page needs no network beyond the gateway', async () => {
    const res = await fetch(`${gw.url}/dashboard/vendor/chart.umd.min.js`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Chart')
  })
})
