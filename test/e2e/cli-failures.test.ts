/**
 * Issue #13 (failing well): every command line mistake is one line on stderr and exit 2,
 * --help and --version go to stdout with exit 0, a busy port is one line and exit 1 before
 * anything loads, and simulate and export say why and exit non-zero when what they were asked
 * to do cannot work.
 */
import { spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const root = new URL('../..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-failures-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function switchyard(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['dist/cli.js', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 })
}

const COMMANDS = [[], ['serve'], ['validate'], ['schema'], ['export'], ['simulate'], ['reference'], ['drift'], ['models'], ['stage'], ['stage', 'request'], ['stage', 'approve'],
  ['stage', 'reject'], ['stage', 'cancel'], ['stage', 'list'], ['activity'], ['token'], ['token', 'new']]

describe('the command line', () => {
  it.each(COMMANDS)('%s --help: usage on stdout, exit 0', (...command: string[]) => {
    const run = switchyard([...command, '--help'])
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(/^Usage: switchyard/)
    expect(run.stderr).toBe('')
  })

  it('--version prints the version', () => {
    const run = switchyard(['--version'])
    expect(run.status).toBe(0)
    expect(run.stdout.trim()).toBe(pkg.version)
  })

  it.each([
    [['--prot', '9090'], /^switchyard serve: unknown option '--prot' \(Did you mean --port\?\)/],
    [['serve', '--port', 'eighty'], /^switchyard serve: option '--port <n>' argument 'eighty' is invalid\. must be an integer from 0 to 65535/],
    [['serve', '--log-level', 'verbose'], /must be one of debug, info, warn, error, silent, got 'verbose'/],
    [['bogus'], /^switchyard: unknown command 'bogus'/],
    [['stage'], /^switchyard stage: which one\? request, approve, reject, cancel, list/],
    [['stage', 'aprove', 'x'], /^switchyard stage: unknown action 'aprove'/],
    [['stage', 'approve'], /^switchyard stage approve: missing required argument 'request-id'/],
    [['token', 'new', '--name', 'me'], /^switchyard token new: required option '--role <role>' not specified/],
    [['export', '--model', 'm', '--format', 'xml'], /^switchyard export: option '--format <format>' argument 'xml' is invalid/],
    [['export', '--model', 'm', '--format', 'parquet'], /^switchyard export: --format parquet needs --out FILE/],
    [['simulate'], /^switchyard simulate: required option '--model <model>' not specified/],
    [['simulate', '--model', 'm', '--duration', 'soon'], /must be a duration such as 90s/],
    [['reference', '--model', 'm', 'f.csv'], /^switchyard reference: required option '--version <version>' not specified/],
    [['drift', '--model', 'm'], /^switchyard drift: required option '--version <version>' not specified/],
  ])('%s: one line on stderr, exit 2', (args, message) => {
    const run = switchyard(args)
    expect(run.status).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(message)
  })

  it('token new refuses a name already taken, whatever its case', () => {
    const file = join(dir, 'tokens.yaml')
    expect(switchyard(['token', 'new', '--name', 'Carol', '--role', 'editor', '--file', file]).status).toBe(0)
    const again = switchyard(['token', 'new', '--name', 'carol', '--role', 'approver', '--file', file])
    expect(again.status).toBe(1)
    expect(again.stderr).toMatch(/already has a token named 'Carol'/)
  })

  it('reads a bad environment variable as a mistake too', () => {
    const run = switchyard(['serve'], { SWITCHYARD_PORT: 'x' })
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/^switchyard serve: environment variable SWITCHYARD_PORT must be an integer/)
  })
})

describe('serve on a busy port', () => {
  let holder: Server
  beforeAll(async () => {
    holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  })
  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())))

  it('says so in one line and exits 1 before loading anything', () => {
    const port = (holder.address() as { port: number }).port
    const run = switchyard(['serve', '--port', String(port), '--grpc-port', '0', '--host', '127.0.0.1', '--store', 'none', '--log-level', 'debug'])
    expect(run.status).toBe(1)
    expect(run.stderr).toBe(`switchyard: port ${port} is in use; pick another with --port\n`)
    expect(run.stdout).toBe('') // no version was loaded
  })

  it('says which flag when the busy port is the gRPC one', () => {
    const port = (holder.address() as { port: number }).port
    const run = switchyard(['serve', '--port', '0', '--grpc-port', String(port), '--host', '127.0.0.1', '--store', 'none'])
    expect(run.status).toBe(1)
    expect(run.stderr).toBe(`switchyard: port ${port} is in use; pick another with --grpc-port (0 turns gRPC off)\n`)
    expect(run.stdout).toBe('')
  })
})

describe('simulate and export against what does not work', () => {
  let gateway: GatewayProcess
  beforeAll(async () => {
    gateway = await spawnGateway(['--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill')])
  })
  afterAll(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL')
  })

  it('simulate without a token says it needs one and exits 1 before sending', () => {
    const run = switchyard(['simulate', '--model', 'credit-risk', '--url', gateway.url, '--duration', '1s'], { SWITCHYARD_TOKEN: '' })
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/^switchyard simulate: posting ground truth needs a token with the predictor or admin role \(401 AUTH_REQUIRED/)
    expect(run.stdout).toBe('')
  })

  it('simulate on a model the gateway does not serve names the models it does', () => {
    const run = switchyard(['simulate', '--model', 'credit-riks', '--url', gateway.url, '--duration', '1s'])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/^switchyard simulate: 404 MODEL_NOT_FOUND: .*credit-riks.*credit-risk/)
  })

  it('simulate on a gateway that is not there says where it looked', () => {
    const run = switchyard(['simulate', '--model', 'credit-risk', '--url', 'http://127.0.0.1:9', '--duration', '1s'])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/cannot reach the gateway at http:\/\/127\.0\.0\.1:9/)
  })

  it('export of a model with no records says so, writes no file and exits 1', () => {
    const out = join(dir, 'none.csv')
    const run = switchyard(['export', '--model', 'credit-riks', '--format', 'csv', '--out', out, '--store', `sqlite:${join(dir, 'log.db')}`])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/holds no records of model 'credit-riks'/)
    expect(() => readFileSync(out)).toThrow()
  })

  it('export from a store that does not exist says so and exits 1', () => {
    const run = switchyard(['export', '--model', 'credit-risk', '--store', `sqlite:${join(dir, 'missing.db')}`])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/^switchyard export: cannot open sqlite:.*missing\.db/)
  })
})
