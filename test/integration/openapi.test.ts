/**
 * Issue #16 (point 6): GET /openapi.json describes every endpoint, and only what the gateway
 * does. The paths served are not listed by hand here: the control plane's are read from its
 * Express route table, the data plane's found by asking the data plane itself about every
 * path made of the words its code compares segments with (the last two also joined by ':',
 * as TF Serving's verbs are). An endpoint added without a line in src/http/openapi.ts
 * ENDPOINTS fails the first test.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Guard } from '../../src/auth/guard.js'
import { createControlPlane } from '../../src/http/control-plane.js'
import { createDataPlane, dataPlaneHandlers } from '../../src/http/data-plane.js'
import { ENDPOINTS } from '../../src/http/openapi.js'
import { createLogger } from '../../src/log.js'
import { versionChoice } from '../../src/router/version-choice.js'
import { SERVER_INFO } from '../../src/version.js'
import { creditRecords, get, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const MAX_SEGMENTS = 6 // the deepest data-plane path, /v1/models/{m}/versions/{v}/predict; a deeper one needs more

let gw: Running
let doc: any
const dir = mkdtempSync(join(tmpdir(), 'switchyard-openapi-'))

beforeAll(async () => {
  // a label named as a version, so that the probe's words reach the label endpoints
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  iris:\n    split: { v1: 100 }\n    labels: { v1: v1 }\n')
  gw = await startGateway({ routesPath: join(dir, 'routes.yaml') })
  doc = (await get(`${gw.url}/openapi.json`)).body
})

afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
})

const documented = () => new Set(ENDPOINTS.map((e) => `${e.method.toUpperCase()} ${e.path}`))

/** METHOD path for every route of the control plane's Express app, path parameters as {name}. */
function controlPlaneRoutes(): string[] {
  const app = createControlPlane({ ...gw.gateway, modelsDir: gw.gateway.options.modelsDir, guard: new Guard(null) })
  const out: string[] = []
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        const path = String(layer.route.path).replace(/:(\w+)/g, '{$1}')
        for (const method of Object.keys(layer.route.methods)) if (method !== '_all') out.push(`${method.toUpperCase()} ${path}`)
      } else if (Array.isArray(layer.handle?.stack)) {
        walk(layer.handle.stack)
      } else if (layer.name === 'serveStatic') {
        out.push(`GET ${layer.rawPath}/{page}`) // express.static serves the folder's files
      }
    }
  }
  walk((app as any).router.stack)
  return out
}

/** METHOD path for every path the data plane answers, found by trying every path of its words up to MAX_SEGMENTS deep. */
function dataPlanePaths(): string[] {
  // data-plane.ts and the modules of src/http it imports (a protocol's paths may move into one)
  const read = (name: string) => readFileSync(new URL(`../../src/http/${name}.ts`, import.meta.url), 'utf8')
  const main = read('data-plane')
  const source = [main, ...[...main.matchAll(/from '\.\/([\w-]+)\.js'/g)].map((m) => read(m[1]))].join('\n')
  // the literals a path is compared with: === 'infer', !== 'predict', startsWith('/v1/models/'), case 'ready'
  const literals = [...source.matchAll(/(?:[!=]==\s*|(?:endsWith|startsWith)\(|case\s+)'([^' ]*)'/g)].map((m) => m[1])
  const TYPES = ['object', 'string', 'number', 'boolean', 'undefined', 'function', 'bigint', 'symbol'] // typeof x === 'object'
  const words = new Set(literals.flatMap((l) => l.split('/')).filter((w) => /^[a-z0-9][a-z0-9_.-]*$/.test(w) && !TYPES.includes(w)))
  // names of a model, version and label that exist (routes.yaml above), so that only the path decides
  const segments = [...words].concat('iris', 'v1')
  expect(segments.length, `${segments}: more words make the search slow`).toBeLessThanOrEqual(14)
  const claimed = new Set<string>()
  // the gateway's own handler set; the probe's GETs never reach an inference (POST endpoints answer 405 first)
  const choice = versionChoice(gw.gateway.pool, gw.gateway.routes, (m, v) => gw.gateway.lifecycle.stages.stageOf(m, v))
  const handlers = dataPlaneHandlers(gw.gateway.pool, choice, () => () => undefined)
  const plane = createDataPlane(gw.gateway.pool, handlers, SERVER_INFO, createLogger('silent'), () => {})
  const ask = (path: string) => {
    const res = {
      statusCode: 200, headersSent: false, socket: null, allow: null as string | null, body: '',
      writeHead(status: number, headers: Record<string, string>) { this.statusCode = status; this.allow = headers?.allow ?? null },
      end(body?: string) { this.body = String(body ?? '') },
    }
    if (!plane({ url: path, method: 'GET', headers: {} } as IncomingMessage, res as unknown as ServerResponse)) return
    if (res.statusCode === 404) return // no such model or version: answered, but not an endpoint
    if (res.body.includes('"code":"TF_METHOD_UNSUPPORTED"')) return // TF Serving's other verbs, refused by name
    claimed.add(`${res.statusCode === 405 ? res.allow : 'GET'} ${path}`)
  }
  const extend = (prefix: string, depth: number) => {
    ask(prefix)
    // a verb after a colon, as TF Serving's /v1/models/iris:predict: the last two segments joined by ':' too
    if (depth > 1) ask(prefix.replace(/\/([^/]*)$/, ':$1'))
    if (depth < MAX_SEGMENTS) for (const s of segments) extend(`${prefix}/${s}`, depth + 1)
  }
  for (const s of segments) extend(`/${s}`, 1)
  // each concrete path, as the documented template it fits
  return [...claimed].map((line) => {
    const match = [...documented()].find((d) => new RegExp(`^${d.replace(/\{\w+\}/g, '[^/]+')}$`).test(line))
    return match ?? line
  })
}

describe('GET /openapi.json', () => {
  it('documents every path the gateway serves, and serves every path it documents', () => {
    const served = new Set([...controlPlaneRoutes(), ...dataPlanePaths()])
    expect([...served].filter((p) => !documented().has(p)).sort(), 'served but not in src/http/openapi.ts ENDPOINTS').toEqual([])
    expect([...documented()].filter((p) => !served.has(p)).sort(), 'documented but not served').toEqual([])
    expect(Math.max(...ENDPOINTS.map((e) => e.path.split('/').length - 1))).toBeLessThanOrEqual(MAX_SEGMENTS)
  })

  it('is an OpenAPI 3.1 document whose schemas are valid JSON Schema 2020-12', () => {
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info).toMatchObject({ title: 'switchyard', version: SERVER_INFO.version })
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    const ids = new Set<string>()
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      expect(path).toMatch(/^\//)
      for (const [method, op] of Object.entries<any>(item)) {
        expect(['get', 'post', 'put']).toContain(method)
        expect(ids.has(op.operationId), op.operationId).toBe(false)
        ids.add(op.operationId)
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
        expect((op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name)).toEqual(inPath)
        expect(Object.keys(op.responses).length).toBeGreaterThan(0)
        const schemas = [
          ...(op.parameters ?? []).map((p: any) => p.schema),
          ...Object.values<any>(op.requestBody?.content ?? {}).map((c) => c.schema),
          ...Object.values<any>(op.responses).flatMap((r) => Object.values<any>(r.content ?? {}).map((c) => c.schema)),
        ].filter((s) => s !== undefined && s.$ref === undefined)
        for (const schema of schemas) expect(() => ajv.compile(schema), `${method} ${path}`).not.toThrow()
        for (const s of op.security ?? []) for (const name of Object.keys(s)) expect(doc.components.securitySchemes[name]).toBeDefined()
      }
    }
    expect(() => ajv.compile(doc.components.schemas.Error)).not.toThrow()
  })

  it('is linked from GET /', async () => {
    expect((await get(`${gw.url}/`)).body.links.openapi).toBe('/openapi.json')
  })
})

describe('the document describes what the gateway does', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  const operation = (method: string, path: string) => doc.paths[path][method]
  const check = (schema: unknown, value: unknown) => {
    const validate = ajv.compile(schema as object)
    if (!validate(value)) throw new Error(`${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 300)}`)
  }
  const request = (path: string) => operation('post', path).requestBody.content['application/json'].schema
  const answer = (method: string, path: string, status = '200') => operation(method, path).responses[status].content['application/json'].schema

  it('the bodies the gateway takes fit the request schemas, and its answers the answer schemas', async () => {
    const native = { instances: creditRecords(2, 3).map((r, i) => ({ id: `row-${i}`, ...r })) }
    check(request('/v1/models/{model}/versions/{version}/predict'), native)
    const predicted = await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, native)
    expect(predicted.status).toBe(200)
    check(answer('post', '/v1/models/{model}/versions/{version}/predict'), predicted.body)

    const tensors = { id: 'r1', inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }], outputs: [{ name: 'label' }] }
    check(request('/v2/models/{model}/versions/{version}/infer'), tensors)
    const inferred = await post(`${gw.url}/v2/models/iris/versions/v1/infer`, tensors)
    expect(inferred.status).toBe(200)
    check(answer('post', '/v2/models/{model}/versions/{version}/infer'), inferred.body)

    for (const [path, concrete] of [['/v2', '/v2'], ['/v2/health/live', '/v2/health/live'], ['/v2/health/ready', '/v2/health/ready'],
      ['/v2/models/{model}', '/v2/models/iris'], ['/v2/models/{model}/versions/{version}/ready', '/v2/models/iris/versions/v1/ready']]) {
      check(answer('get', path), (await get(`${gw.url}${concrete}`)).body)
    }
    check(answer('post', '/v2/repository/index'), (await post(`${gw.url}/v2/repository/index`, {})).body)

    // TF Serving: rows and columns, routed, one version and a label; status and metadata
    const features = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    for (const [path, concrete] of [['/v1/models/{model}:predict', '/v1/models/iris:predict'], ['/v1/models/{model}/versions/{version}:predict', '/v1/models/iris/versions/v1:predict'],
      ['/v1/models/{model}/labels/{label}:predict', '/v1/models/iris/labels/v1:predict']]) {
      for (const body of [{ instances: features }, { signature_name: 'serving_default', inputs: { features } }]) {
        check(request(path), body)
        const res = await post(`${gw.url}${concrete}`, body)
        expect(res.status, concrete).toBe(200)
        check(answer('post', path), res.body)
      }
    }
    for (const [path, concrete] of [['/v1/models/{model}/versions/{version}', '/v1/models/iris/versions/v1'], ['/v1/models/{model}/labels/{label}', '/v1/models/iris/labels/v1'],
      ['/v1/models/{model}/metadata', '/v1/models/iris/metadata'], ['/v1/models/{model}/versions/{version}/metadata', '/v1/models/iris/versions/v1/metadata'],
      ['/v1/models/{model}/labels/{label}/metadata', '/v1/models/iris/labels/v1/metadata']]) {
      check(answer('get', path), (await get(`${gw.url}${concrete}`)).body)
    }
    check(doc.components.schemas.Error, (await post(`${gw.url}/v1/models/iris:predict`, { signature_name: 'predict_images', instances: features })).body)
    check(answer('get', '/admin/routes'), (await get(`${gw.url}/admin/routes`)).body)
    check(doc.components.schemas.Error, (await post(`${gw.url}/v2/models/iris/versions/v9/infer`, tensors)).body)
  })

  it('the request schemas refuse what the gateway refuses', async () => {
    const refused = [
      ['/v1/models/{model}/versions/{version}/predict', '/v1/models/iris/versions/v1/predict', { instances: [] }],
      ['/v2/models/{model}/versions/{version}/infer', '/v2/models/iris/versions/v1/infer', { inputs: [] }],
      ['/v2/repository/index', '/v2/repository/index', { ready: 1 }],
      ['/v1/models/{model}:predict', '/v1/models/iris:predict', { instances: [] }],
      ['/v1/models/{model}:predict', '/v1/models/iris:predict', {}],
      ['/v1/models/{model}:predict', '/v1/models/iris:predict', { instances: [[5.1, 3.5, 1.4, 0.2]], inputs: [[5.1, 3.5, 1.4, 0.2]] }],
      ['/v1/models/{model}:predict', '/v1/models/iris:predict', { signature_name: 'predict_images', inputs: [[5.1, 3.5, 1.4, 0.2]] }],
    ] as const
    for (const [path, concrete, body] of refused) {
      expect(ajv.validate(request(path), body), path).toBe(false)
      expect((await post(`${gw.url}${concrete}`, body)).status, concrete).toBe(400)
    }
  })
})
