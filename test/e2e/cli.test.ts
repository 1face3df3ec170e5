/**
 * Issue #3: `switchyard validate` for a CI step before a deploy, and SIGHUP applying a
 * changed routes.yaml in a running server (file watching off).
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decide, registerVersions, requestStage } from '../../src/lifecycle/operations.js'
import { openStore } from '../../src/store/open-store.js'
import { eventually } from '../integration/helpers.js'

const root = new URL('../..', import.meta.url).pathname
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function switchyard(...args: string[]) {
  return spawnSync(process.execPath, ['dist/cli.js', ...args], { cwd: root, encoding: 'utf8' })
}

describe('switchyard validate', () => {
  it('passes the repository routes.yaml', () => {
    const run = switchyard('validate', 'routes.yaml', '--models', 'models')
    expect(run.status).toBe(0)
    expect(run.stdout).toContain('routes.yaml: valid')
  })

  it('prints every problem with its line and exits 1', () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'routes:\n  credit-risk:\n    split: { v1: 60, v2: 30 }\n    labels: { stable: v9 }\n  fraud:\n    split: { v1: 100 }\n')
    const run = switchyard('validate', file, '--models', 'models')
    expect(run.status).toBe(1)
    expect(run.stderr.trim().split('\n')).toEqual([
      `${file}:3:5: routes.credit-risk.split: weights sum to 90, not 100`,
      `${file}:4:15: routes.credit-risk.labels.stable: model 'credit-risk' has no version 'v9' (versions: v1, v2, v3)`,
      `${file}:5:3: routes.fraud: no model 'fraud' in the model repository`,
    ])
  })

  // issue #15: validate skipped the stage check that start-up runs
  it('checks the stages in the store, as start-up does', async () => {
    const storePath = join(dir, 'stages.db')
    const store = await openStore({ kind: 'sqlite', path: storePath })
    await store.migrate()
    await store.run(registerVersions([{ model: 'credit-risk', version: 'v1' }, { model: 'credit-risk', version: 'v2' }]))
    const request = await store.run(requestStage({ model: 'credit-risk', version: 'v2', to: 'Archived', actor: 'alice', comment: null, liveTraffic: null }))
    await store.run(decide({ id: request.id, action: 'approve', actor: 'bob', comment: null, liveTraffic: {} }))
    await store.close()
    const file = join(dir, 'archived.yaml')
    writeFileSync(file, 'routes:\n  credit-risk:\n    split: { v1: 50, v2: 50 }\n')
    const run = switchyard('validate', file, '--models', 'models', '--store', `sqlite:${storePath}`)
    expect(run.stderr.trim()).toBe(`${file}:3:22: routes.credit-risk.split.v2: version 'v2' is Archived; an archived version may only be a shadow or a challenger, not answer live traffic`)
    expect(run.status).toBe(1)
    expect(switchyard('validate', file, '--models', 'models', '--store', 'none').status).toBe(0)
  })

  it('refuses to start a server on an invalid routes.yaml, naming the problems', () => {
    const file = join(dir, 'bad-start.yaml')
    writeFileSync(file, 'routes:\n  credit-risk:\n    split: { v1: 101 }\n')
    const run = switchyard('serve', '--routes', file, '--port', '0', '--grpc-port', '0', '--log-level', 'silent')
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('the gateway does not start on an invalid config')
    expect(run.stderr).toContain(`${file}:3:14: routes.credit-risk.split.v1: a percent is at most 100`)
  })
})

describe('SIGHUP', () => {
  let child: ChildProcess | null = null
  afterAll(() => {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL')
  })

  it('applies a changed routes.yaml', async () => {
    const file = join(dir, 'routes.yaml')
    writeFileSync(file, 'routes:\n  credit-risk:\n    split: { v1: 100 }\n')
    // port 0: a port picked at random could be taken (by a client's ephemeral port, another
    // test's gateway), and the test then spoke to someone else
    child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--grpc-port', '0', '--host', '127.0.0.1', '--routes', file, '--no-watch', '--log-level', 'info'], { cwd: root })
    const log = logLines(child)
    const base = String((await log.next((l) => l.msg === 'listening')).url)
    await eventually(async () => expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200), 60_000) // SIGHUP is handled from then on
    const version = async () => (await fetch(`${base}/v1/models/credit-risk/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [{ limit_bal: 50000, education: 2, marriage: 1, age: 35, pay_1: 0, pay_2: 0, pay_3: 0, pay_4: 0, pay_5: 0, pay_6: 0, bill_amt1: 1, bill_amt2: 1, bill_amt3: 1, bill_amt4: 1, bill_amt5: 1, bill_amt6: 1, pay_amt1: 1, pay_amt2: 1, pay_amt3: 1, pay_amt4: 1, pay_amt5: 1, pay_amt6: 1 }] }),
    })).headers.get('x-model-version')
    expect(await version()).toBe('v1')
    writeFileSync(file, 'routes:\n  credit-risk:\n    split: { v3: 100 }\n')
    await new Promise((r) => setTimeout(r, 200))
    expect(await version()).toBe('v1') // not watched: nothing changes yet
    child.kill('SIGHUP')
    await log.next((l) => l.msg === 'routes.yaml applied' && l.trigger === 'SIGHUP') // logged once the new table serves
    expect(await version()).toBe('v3')
  }, 200_000) // three waits of up to 60 s on a busy machine
})

/** The JSON log lines a spawned gateway writes on stderr, as they come. */
function logLines(gateway: ChildProcess): { next(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>> } {
  const lines: Record<string, unknown>[] = []
  let partial = ''
  let onLine = (): void => {}
  gateway.stderr!.on('data', (chunk: Buffer) => {
    const complete = (partial + chunk.toString()).split('\n')
    partial = complete.pop()!
    for (const line of complete) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        lines.push({ msg: line }) // not a log line (a stack trace): kept for the failure message
      }
    }
    onLine()
  })
  return {
    next(match, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const fail = (why: string): void => {
          clearTimeout(timer)
          gateway.off('exit', onExit)
          reject(new Error(`${why}; the gateway wrote:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`))
        }
        const onExit = (): void => fail(`the gateway exited (${gateway.exitCode ?? gateway.signalCode})`)
        const timer = setTimeout(() => fail(`no such log line within ${timeoutMs} ms`), timeoutMs)
        gateway.once('exit', onExit)
        onLine = () => {
          const found = lines.find(match)
          if (found === undefined) return
          clearTimeout(timer)
          gateway.off('exit', onExit)
          resolve(found)
        }
        onLine()
        if (gateway.exitCode !== null || gateway.signalCode !== null) onExit()
      })
    },
  }
}
