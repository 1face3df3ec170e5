/**
 * Issue #2: what `npm start` runs — the built CLI as a child process — serves the
 * repository's models, reports every version's state, and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = new URL('../..', import.meta.url).pathname
let child: ChildProcess
let stdout = ''
let base = ''

beforeAll(async () => {
  const port = 20_000 + Math.floor(Math.random() * 10_000)
  base = `http://127.0.0.1:${port}`
  child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'], { cwd: root })
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()))
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const ready = await fetch(`${base}/v2/health/ready`).then((r) => r.status === 200, () => false)
    if (ready) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the server did not become ready; stdout: ${stdout}`)
})

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL')
})

describe('switchyard serve', () => {
  it('reports each version as it loads and serves predictions', async () => {
    await new Promise((r) => setTimeout(r, 100))
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
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
