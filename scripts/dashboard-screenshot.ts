/**
 * npm run docs:screenshot: docs/dashboard.png, the README's picture of the dashboard, taken from
 * a real gateway rather than by hand. The built gateway (dist/) serves credit-risk with champion
 * v1, challenger v2 and shadow v3 and records to SQLite in a temporary folder (the versions'
 * reference.json give them reference data); the simulator sends two minutes of traffic with
 * ground truth, its rows drifted from the training data; v1 goes to Production and v2 to Staging,
 * each approved by a second person; headless Chromium (Debian's package, as the e2e tests use
 * it) then saves the page over the last 15 minutes.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { simulate } from '../src/cli/simulate.js'
import { ADMIN_TOKEN, spawnGateway, TOKEN_ENV } from '../test/e2e/gateway-process.js'

const OUT = new URL('../docs/dashboard.png', import.meta.url).pathname
const SIMULATION_MS = Number(process.env.SIMULATION_SECONDS ?? 120) * 1_000
const REVIEWER_TOKEN = 'sy_screenshot-reviewer-not-a-secret' // a stage change needs a second person's approval

const dir = mkdtempSync(join(tmpdir(), 'switchyard-screenshot-'))
writeFileSync(join(dir, 'routes.yaml'), `
routes:
  credit-risk:
    champion: v1
    sticky: header:x-customer-id
    challengers: { v2: 50 }
    shadow: { v3: 50 }
`)
const gateway = await spawnGateway(['--routes', join(dir, 'routes.yaml'), '--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill')], {
  SWITCHYARD_TOKENS: `${TOKEN_ENV.SWITCHYARD_TOKENS},reviewer:approver:${createHash('sha256').update(REVIEWER_TOKEN).digest('hex')}`,
})
const post = async (path: string, token: string, body: unknown): Promise<{ request: { id: string } }> => {
  const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`)
  return res.json() as Promise<{ request: { id: string } }>
}
try {
  for (const [version, stage] of [['v1', 'Production'], ['v2', 'Staging']]) {
    const { request } = await post(`/v1/models/credit-risk/versions/${version}/stage-requests`, ADMIN_TOKEN, { stage, comment: 'passed offline evaluation' })
    await post(`/v1/stage-requests/${request.id}/approve`, REVIEWER_TOKEN, { comment: 'looks good' })
  }
  const summary = await simulate({
    url: gateway.url, model: 'credit-risk', rps: 20, durationMs: SIMULATION_MS, groundTruthDelayMs: 2_000, customers: 200, seed: 11, drift: true, token: ADMIN_TOKEN, out: process.stderr,
  })
  if (summary.failed > 0) throw new Error(`${summary.failed} simulated requests failed: ${JSON.stringify(summary.failures)}`)
  await new Promise((r) => setTimeout(r, 500)) // the last records commit within one flush interval
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await page.addInitScript((token) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('switchyard-token', token), ADMIN_TOKEN)
    await page.goto(`${gateway.url}/dashboard?model=credit-risk`)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    await page.selectOption('#window', '900') // the charts over time in 15 s buckets rather than a minute's
    await page.waitForFunction(() => [...(globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ hidden: boolean }> } }).document.querySelectorAll('.loading')].every((n) => n.hidden))
    await page.screenshot({ path: OUT, fullPage: true })
    process.stderr.write(`wrote ${OUT}\n`)
  } finally {
    await browser.close()
  }
} finally {
  gateway.child.kill('SIGTERM')
  await gateway.exited()
  rmSync(dir, { recursive: true, force: true })
}
