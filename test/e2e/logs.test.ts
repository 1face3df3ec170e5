/**
 * Issue #15, point 4: logs are written asynchronously (src/log.ts), so a line logged just before
 * the process ends must still reach stderr: at a normal end, at exit(), at a fatal error and at
 * a SIGTERM stop. And the level still applies, in the worker threads too.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from './free-port.js'

const root = new URL('../..', import.meta.url).pathname
const LINES = 20_000 // about 2 MB: far more than the 4 KB buffer and than one write in flight

interface LogLine { level: string; time: string; msg: string; [field: string]: unknown }

/** Complete JSON lines of `text`; anything else (a stack trace) is left out. */
function logLines(text: string): LogLine[] {
  return text.split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l) as LogLine)
}

/** A process that logs LINES lines through dist/log.js, then ends as `end` says. */
function logThenEnd(end: string, level = 'info') {
  const script = `
    const { createLogger } = await import(${JSON.stringify(`${root}dist/log.js`)})
    const log = createLogger(${JSON.stringify(level)})
    log.debug('a debug line', { seq: -1 })
    for (let seq = 0; seq < ${LINES}; seq++) log.info('line', { seq, model: 'credit-risk', code: 'MODEL_NOT_FOUND', status: 404 })
    log.warn('last line before the end')
    ${end}`
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 << 20 })
}

describe('every line is written before the process ends', () => {
  it.each([
    ['the event loop runs out', '', 0],
    ['process.exit()', 'process.exit(0)', 0],
    ['an uncaught exception', "setImmediate(() => { throw new Error('fatal') })", 1],
  ])('when %s', (_, end, code) => {
    const run = logThenEnd(end)
    expect(run.status).toBe(code)
    const lines = logLines(run.stderr)
    expect(lines.map((l) => l.seq)).toEqual([...Array.from({ length: LINES }, (__, i) => i), undefined])
    expect(lines.at(-1)).toMatchObject({ level: 'warn', msg: 'last line before the end' })
    if (code === 1) expect(run.stderr).toContain('Error: fatal')
  })

  it('writes each line as one JSON object: level by name, ISO time, the fields, msg', () => {
    const run = logThenEnd('', 'debug')
    const first = run.stderr.slice(0, run.stderr.indexOf('\n'))
    expect(first).toMatch(/^\{"level":"debug","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","seq":-1,"msg":"a debug line"\}$/)
    expect(logLines(run.stderr)).toHaveLength(LINES + 2)
  })
})

describe('switchyard serve', () => {
  let dir: string
  let child: ChildProcess | null = null
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-logs-'))
  })
  afterEach(() => {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL')
    child = null
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  /** The gateway at `level`, with an SQLite store (its writer worker logs too); resolves once it answers. */
  async function serve(level: string): Promise<{ base: string; stderr: () => string; exited: Promise<number | null> }> {
    const port = await freePort() // not 0: at silent no line says which port
    const started = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--grpc-port', '0', '--no-watch', '--no-auth',
      '--store', `sqlite:${join(dir, `${level}.db`)}`, '--spill-dir', join(dir, `spill-${level}`), '--log-level', level], { cwd: root })
    child = started
    let stderr = ''
    started.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
    const exited = new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code)))
    const base = `http://127.0.0.1:${port}`
    for (let i = 0; i < 300 && started.exitCode === null; i++) {
      if (await fetch(`${base}/v2/health/ready`).then((r) => r.ok, () => false)) return { base, stderr: () => stderr, exited }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`the gateway did not start: ${stderr}`)
  }

  /** 50 requests for no endpoint (404, logged at info), then SIGTERM; resolves to the exit code. */
  async function answerThenStop(gateway: Awaited<ReturnType<typeof serve>>): Promise<number | null> {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${gateway.base}/nope/${i}`).then((r) => r.status)))
    expect(answers).toEqual(Array(50).fill(404))
    child!.kill('SIGTERM')
    return gateway.exited
  }

  it('at SIGTERM, writes every line logged before and during the stop, "stopped" last', async () => {
    const gateway = await serve('info')
    expect(await answerThenStop(gateway)).toBe(0)
    const lines = logLines(gateway.stderr())
    expect(lines.filter((l) => l.code === 'ROUTE_NOT_FOUND').map((l) => l.path).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `/nope/${i}`).sort())
    expect(lines.find((l) => l.msg === 'the store worker started')).toMatchObject({ level: 'info' }) // the store worker's own line
    expect(lines.at(-1)).toMatchObject({ level: 'info', msg: 'stopped' })
  })

  it('at warn, leaves out the info lines of the request thread and of the store worker', async () => {
    const gateway = await serve('warn')
    expect(await answerThenStop(gateway)).toBe(0)
    const lines = logLines(gateway.stderr())
    expect(lines.length).toBeGreaterThan(0) // --no-auth is a warning
    expect(lines.filter((l) => l.level !== 'warn' && l.level !== 'error')).toEqual([])
  })

  it('at silent, writes nothing on stderr', async () => {
    const gateway = await serve('silent')
    expect(await answerThenStop(gateway)).toBe(0)
    expect(gateway.stderr()).toBe('')
  })
})
