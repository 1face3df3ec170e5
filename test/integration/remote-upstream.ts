/**
 * A stand-in for another server speaking the Open Inference Protocol, for remote versions
 * in tests: it answers metadata like a credit-risk version and infers according to `mode`
 * (answer at once, sleep first, or fail with a 500).
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { REPO_MODELS } from './helpers.js'

export type UpstreamMode = 'ok' | 'sleep' | 'fail'

export interface Upstream {
  readonly url: (model: string, version: string) => string
  mode: UpstreamMode
  sleepMs: number
  infers: number
  close(): Promise<void>
}

export async function startUpstream(mode: UpstreamMode = 'ok'): Promise<Upstream> {
  let server: Server
  const upstream: Upstream = {
    url: (model, version) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/models/${model}/versions/${version}`,
    mode,
    sleepMs: 500,
    infers: 0,
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (req.method === 'GET') {
        return send(200, {
          name: 'remote', versions: ['1'], platform: 'onnx_onnxv1',
          inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 22] }],
          outputs: [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'probability', datatype: 'FP32', shape: [-1] }],
        })
      }
      upstream.infers++
      if (upstream.mode === 'fail') return send(500, { error: 'upstream is broken on purpose' })
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { inputs: { shape: number[] }[] }
      const rows = body.inputs[0].shape[0]
      const answer = () => send(200, {
        model_name: 'remote', model_version: '1',
        outputs: [
          { name: 'label', datatype: 'INT64', shape: [rows], data: new Array(rows).fill(0) },
          { name: 'probability', datatype: 'FP32', shape: [rows], data: new Array(rows).fill(0.125) },
        ],
      })
      if (upstream.mode === 'sleep') setTimeout(answer, upstream.sleepMs)
      else answer()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return upstream
}

/** A remote version folder: version.yaml with credit-risk's signature and an upstream, no model.onnx. */
export function addRemoteVersion(repo: string, model: string, version: string, upstream: string, timeoutMs = 2_000): void {
  const meta = parse(readFileSync(join(REPO_MODELS, 'credit-risk', 'v1', 'version.yaml'), 'utf8')) as Record<string, unknown>
  delete meta.sha256
  mkdirSync(join(repo, model, version), { recursive: true })
  writeFileSync(join(repo, model, version, 'version.yaml'), stringify({ ...meta, label: 'remote', upstream, timeout_ms: timeoutMs }))
}
