/**
 * Issue #2: what `npm start` runs — the built CLI as a child process — serves the
 * repository's models, reports every version's state, and stops cleanly on SIGTERM.
 * Issue #16: its gRPC service finds the proto beside dist/, and an open gRPC connection does
 * not hold the stop.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InferenceClient } from '../../src/grpc/client.js'
import { spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'
import { freePort } from './free-port.js'

let gateway: GatewayProcess
let base = ''
let grpcPort = 0

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-serve-'))
  grpcPort = await freePort()
  gateway = await spawnGateway(['--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill'), '--grpc-port', String(grpcPort)])
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

  it('serves ModelInfer over gRPC', async () => {
    const client = new InferenceClient(`127.0.0.1:${grpcPort}`)
    try {
      const { response } = await client.modelInfer({
        model_name: 'iris', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [5.1, 3.5, 1.4, 0.2] } }], outputs: [{ name: 'label' }],
      })
      expect(response.outputs[0].contents?.int64_contents).toEqual(['0']) // setosa
    } finally {
      client.close()
    }
  })

  it('exits 0 on SIGTERM, a gRPC client still connected', async () => {
    const client = new InferenceClient(`127.0.0.1:${grpcPort}`)
    expect(await client.serverLive()).toEqual({ live: true })
    gateway.child.kill('SIGTERM')
    expect(await gateway.exited()).toBe(0)
    client.close()
  })

  it('stops on SIGTERM while versions are still loading (a pod deleted during start)', async () => {
    // a remote version whose upstream accepts and never answers: the gateway listens, not ready, for a minute
    const silent = createServer(() => undefined).listen(0, '127.0.0.1')
    await new Promise((r) => silent.once('listening', r))
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-serve-loading-'))
    mkdirSync(join(dir, 'models', 'slow', 'v1'), { recursive: true })
    writeFileSync(join(dir, 'models', 'slow', 'v1', 'version.yaml'), `upstream: http://127.0.0.1:${(silent.address() as AddressInfo).port}/v2/models/slow\ntimeout_ms: 60000\n`)
    const port = await freePort()
    const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--models', join(dir, 'models'), '--routes', join(dir, 'routes.yaml'), '--grpc-port', '0', '--store', 'none', '--no-auth', '--log-level', 'warn'], { cwd: new URL('../..', import.meta.url).pathname })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      let live = false
      for (let i = 0; i < 150 && !live; i++) {
        live = await fetch(`http://127.0.0.1:${port}/v2/health/live`).then((r) => r.ok, () => false)
        if (!live) await new Promise((r) => setTimeout(r, 100))
      }
      expect(live).toBe(true)
      expect((await fetch(`http://127.0.0.1:${port}/v2/health/ready`)).status).toBe(503)
      const sent = Date.now()
      child.kill('SIGTERM')
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running after 10 s'), 10_000))])
      expect(code).toBe(0)
      expect(Date.now() - sent).toBeLessThan(10_000)
    } finally {
      child.kill('SIGKILL')
      silent.close()
    }
  })
})
