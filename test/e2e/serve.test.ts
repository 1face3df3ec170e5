/**
 * Issue #2: what `npm start` runs — the built CLI as a child process — serves the
 * repository's models, reports every version's state, and stops cleanly on SIGTERM.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

let gateway: GatewayProcess
let base = ''

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-serve-'))
  gateway = await spawnGateway(['--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill')])
  base = gateway.url
})

afterAll(() => {
  if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL')
})

describe('switchyard serve', () => {
  it('reports each version as it loads and serves predictions', async () => {
    await new Promise((r) => setTimeout(r, 100))
    const stdout = gateway.stdout()
    expect(stdout).toContain('credit-risk/v1: ready')
    expect(stdout).toContain('iris/v1: ready')
    const res = await fetch(`${base}/v1/models/iris/versions/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] }),
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { predictions: { label: string }[] }).predictions[0].label).toBe('setosa')
  })

  it('exits 0 on SIGTERM', async () => {
    gateway.child.kill('SIGTERM')
    expect(await gateway.exited()).toBe(0)
  })
})
