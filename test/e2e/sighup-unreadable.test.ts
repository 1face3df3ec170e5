/**
 * Issue #14, finding 4: SIGHUP while routes.yaml cannot be read (a directory in its place,
 * what `docker -v` makes of a missing host file) killed the process with an unhandled
 * EISDIR. It is a recorded rejection now, and the process serves on.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AUTH, spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

let dir: string
let gateway: GatewayProcess

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-sighup-'))
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  iris:\n    split: { v1: 100 }\n')
  gateway = await spawnGateway(['--routes', join(dir, 'routes.yaml'), '--no-watch', '--store', 'none'])
})
afterAll(() => {
  if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('SIGHUP with routes.yaml unreadable', () => {
  it('records a rejection and keeps serving', async () => {
    rmSync(join(dir, 'routes.yaml'))
    mkdirSync(join(dir, 'routes.yaml'))
    gateway.child.kill('SIGHUP')
    type Rejection = { problems: { message: string }[] } | null
    let rejection: Rejection = null
    for (let i = 0; i < 100 && rejection === null; i++) {
      await new Promise((r) => setTimeout(r, 50))
      const res = await fetch(`${gateway.url}/admin/routes`, { headers: AUTH }).catch(() => null)
      rejection = res === null ? null : ((await res.json()) as { last_rejection: Rejection }).last_rejection
    }
    expect(gateway.child.exitCode).toBeNull()
    expect((rejection as Rejection)?.problems[0].message).toMatch(/routes\.yaml: it is a directory, not a file/)
    const answer = await fetch(`${gateway.url}/v1/models/iris/predict`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] }),
    })
    expect(answer.status).toBe(200)
  })
})
