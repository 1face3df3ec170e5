/** Shared by the integration tests: a real gateway on an ephemeral port, and spec validators. */
import { Ajv } from 'ajv'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import { createGateway } from '../../src/index.js'
import { CREDIT_FEATURES, generateCreditRows } from '../../src/sample-data/credit-default.js'
import type { Gateway, GatewayOptions } from '../../src/index.js'

export const REPO_MODELS = new URL('../../models', import.meta.url).pathname

export interface Running {
  readonly gateway: Gateway
  readonly url: string
  close(): Promise<void>
}

/** Start the real gateway (real ONNX sessions) on port 0 and wait until every version has loaded. */
export async function startGateway(options: Partial<GatewayOptions> = {}): Promise<Running> {
  // no routes, no watching, no inference log and no tokens unless a test asks: each test owns its config
  const defaults = { modelsDir: REPO_MODELS, routesPath: join(tmpdir(), 'switchyard-no-routes.yaml'), watchRoutes: false, port: 0, grpcPort: 0, host: '127.0.0.1', logLevel: 'silent' as const, store: 'none', auth: false }
  const gateway = await createGateway({ ...defaults, ...options })
  const port = await gateway.listen()
  await gateway.loaded
  return { gateway, url: `http://127.0.0.1:${port}`, close: () => gateway.close() }
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json(), headers: res.headers }
}

export async function get(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url)
  const text = await res.text()
  return { status: res.status, body: text.length ? JSON.parse(text) : null, headers: res.headers }
}

const spec = JSON.parse(readFileSync(new URL('../fixtures/specs/oip-open_inference_rest.normalized.json', import.meta.url), 'utf8'))
const ajv = new Ajv({ strict: false, allErrors: true })
ajv.addSchema(spec, 'oip')

/** Throws with Ajv's errors unless `body` is valid against the protocol's schema `name`. */
export function assertOip(name: string, body: unknown): void {
  const validate = ajv.getSchema(`oip#/components/schemas/${name}`)
  if (validate === undefined) throw new Error(`no schema ${name}`)
  if (!validate(body)) throw new Error(`not a valid ${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`)
}

/** A request with the path sent exactly as written (fetch would normalise '..' and '%2E%2E'). */
export function rawRequest(base: string, method: string, path: string, body?: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; body: any; headers: Headers }> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, headers: new Headers(res.headers as Record<string, string>) })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * A temporary model repository made of copies of the committed credit-risk versions, e.g.
 * { fraud: { v1: 'v1', v2: 'v3' } } makes fraud/v1 a copy of credit-risk/v1 and fraud/v2 of credit-risk/v3.
 */
export function makeRepository(layout: Record<string, Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-models-'))
  for (const [model, versions] of Object.entries(layout)) {
    mkdirSync(join(dir, model))
    copyFileSync(join(REPO_MODELS, 'credit-risk', 'model.yaml'), join(dir, model, 'model.yaml'))
    for (const [version, source] of Object.entries(versions)) {
      mkdirSync(join(dir, model, version))
      for (const f of ['model.onnx', 'version.yaml']) copyFileSync(join(REPO_MODELS, 'credit-risk', source, f), join(dir, model, version, f))
    }
  }
  return dir
}

/** One credit-risk record (the 22 features), from the seeded generator. */
export function creditRecords(count: number, seed: number): Record<string, number>[] {
  return generateCreditRows(count, seed).map((r) => Object.fromEntries(CREDIT_FEATURES.map((f) => [f, (r as Record<string, number>)[f]])))
}

/** Run `count` requests with at most `concurrency` in flight; resolves to their results in order. */
export async function inParallel<T>(count: number, concurrency: number, send: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count)
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++
      results[i] = await send(i)
    }
  }))
  return results
}

/** Poll until `check` stops throwing (records, mirrors and deliveries land a moment after the answer). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
