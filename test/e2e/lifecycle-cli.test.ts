/**
 * Issue #6 from the command line: `switchyard token new` creates tokens (only their digests
 * reach the file), and `models`, `stage request|approve|list` and `activity` talk to a running
 * gateway with the token from SWITCHYARD_TOKEN, printing tables.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const run = promisify(execFile)
const root = new URL('../..', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-lifecycle-'))
const tokensFile = join(dir, 'tokens.yaml')
const tokens: Record<string, string> = {}
let gw: GatewayProcess

async function cli(args: string[], user: string | null): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, SWITCHYARD_URL: gw?.url ?? '', SWITCHYARD_TOKENS_FILE: tokensFile, SWITCHYARD_TOKEN: user === null ? '' : tokens[user] }
  try {
    const { stdout, stderr } = await run(process.execPath, ['dist/cli.js', ...args], { cwd: root, env })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

beforeAll(async () => {
  for (const [name, role] of [['alice', 'editor'], ['bob', 'approver']]) {
    const made = await cli(['token', 'new', '--name', name, '--role', role, '--file', tokensFile], null)
    expect(made.code).toBe(0)
    tokens[name] = made.stdout.trim()
  }
  gw = await spawnGateway(['--tokens', tokensFile, '--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill'), '--log-level', 'debug'], {})
})

afterAll(async () => {
  gw?.child.kill('SIGTERM')
  await gw?.exited()
  rmSync(dir, { recursive: true, force: true })
})

describe('the lifecycle from the command line', () => {
  it('keeps only digests of the tokens in the file', () => {
    const file = readFileSync(tokensFile, 'utf8')
    expect(file).toContain('name: alice, role: editor, sha256:')
    for (const t of Object.values(tokens)) {
      expect(t).toMatch(/^sy_[A-Za-z0-9_-]{43}$/)
      expect(file).not.toContain(t)
    }
  })

  it('walks a stage change from request to approval, and shows it in models and activity', async () => {
    const models = await cli(['models'], 'alice')
    expect(models.code).toBe(0)
    expect(models.stdout).toMatch(/MODEL\s+VERSION\s+STAGE/)
    expect(models.stdout).toMatch(/credit-risk\s+v2\s+Unassigned/)

    const requested = await cli(['stage', 'request', 'credit-risk', 'v2', 'Staging', '--comment', 'passed offline eval'], 'alice')
    expect(requested.code).toBe(0)
    expect(requested.stdout).toContain('pending')
    expect(requested.stdout).toContain('skips Development')
    const id = requested.stdout.split('\n')[1].split(/\s+/)[0]

    const own = await cli(['stage', 'approve', id], 'alice')
    expect(own.code).toBe(1)
    expect(own.stderr).toContain('FORBIDDEN')
    const approved = await cli(['stage', 'approve', id, '--comment', 'agreed'], 'bob')
    expect(approved.code).toBe(0)
    expect(approved.stdout).toMatch(/approved\s+alice\s+bob/)

    expect((await cli(['models', '--model', 'credit-risk'], 'bob')).stdout).toMatch(/credit-risk\s+v2\s+Staging/)
    expect((await cli(['stage', 'list', '--status', 'all'], 'bob')).stdout).toContain(id)
    const activity = await cli(['activity', '--model', 'credit-risk'], 'bob')
    expect(activity.stdout).toMatch(/bob\s+stage-approved\s+credit-risk\s+v2/)
    expect(activity.stdout).toMatch(/alice\s+stage-requested\s+credit-risk\s+v2/)
  })

  it('says why when there is no token', async () => {
    const res = await cli(['models'], null)
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('AUTH_REQUIRED')
  })

  it('never writes a token to its log, even at debug level and on refusals', async () => {
    await cli(['stage', 'approve', 'no-such-id'], 'alice') // a 403, logged
    await cli(['models'], 'bob')
    // issue #14: a token in a query string was logged with the URL
    expect((await fetch(`${gw.url}/v1/models?access_token=${tokens.alice}`)).status).toBe(401)
    expect((await fetch(`${gw.url}/v1/models/nosuch/versions/v1/predict?token=${tokens.bob}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(404)
    const output = gw.stdout()
    expect(output.length).toBeGreaterThan(0)
    for (const t of Object.values(tokens)) expect(output).not.toContain(t)
  })
})
