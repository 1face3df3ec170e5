/** The built CLI as a child process (what `npm start` runs), on a random port, ready to serve. */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { freePort } from './free-port.js'

/** An admin token for the spawned gateways, given to them as SWITCHYARD_TOKENS (its digest only). */
export const ADMIN_TOKEN = 'sy_e2e-admin-token-not-a-secret'
export const TOKEN_ENV = { SWITCHYARD_TOKENS: `e2e-admin:admin:${createHash('sha256').update(ADMIN_TOKEN).digest('hex')}` }
export const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` }

const root = new URL('../..', import.meta.url).pathname

export interface GatewayProcess {
  readonly child: ChildProcess
  readonly url: string
  stdout(): string
  /** Resolves to the exit code once the process has exited. */
  exited(): Promise<number | null>
}

export async function spawnGateway(args: string[], env: Record<string, string> = TOKEN_ENV): Promise<GatewayProcess> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn', '--grpc-port', '0', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
  })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()))
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    const ready = await fetch(`${url}/v2/health/ready`).then((r) => r.status === 200, () => false)
    if (ready) return { child, url, stdout: () => out, exited: () => exit }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`the gateway did not become ready; output:\n${out}`)
}

/** SIGTERM to each gateway, resolved once all have exited (their records flushed). */
export async function stopGateways(gateways: GatewayProcess[]): Promise<void> {
  await Promise.all(gateways.map((g) => {
    g.child.kill('SIGTERM')
    return g.exited()
  }))
}
