/**
 * What routing may look at in a request: headers, cookies and top-level fields of the JSON
 * body (for a V2 body, its `parameters`). Read lazily; most routes look at one key or none.
 */
import type { IncomingMessage } from 'node:http'

export interface RequestFacts {
  header(name: string): string | undefined
  cookie(name: string): string | undefined
  field(name: string): string | undefined
}

/** For routes that read nothing from the request. */
export const NO_FACTS: RequestFacts = Object.freeze({ header: () => undefined, cookie: () => undefined, field: () => undefined })

/** A request's body as routing sees it: parsed only if a route reads one of its fields. */
export interface RoutedBody {
  value(): unknown
}

/** What choosing a version may read of a request, whatever its transport; built lazily. */
export interface RoutingInput {
  /** Headers, cookies and fields, for routes that pin, match or stick on them. */
  facts(): RequestFacts
  /** The model the body names (POST /predict's "model"); undefined when it names none. */
  namedModel(): unknown
}

export function requestFacts(req: IncomingMessage, body: RoutedBody): RequestFacts {
  return new FactsOfRequest(req, body)
}

/** One object a request, its methods on the prototype: routing reads one or two facts. */
class FactsOfRequest implements RequestFacts {
  readonly #req: IncomingMessage
  readonly #body: RoutedBody
  #cookies: Map<string, string> | null = null

  constructor(req: IncomingMessage, body: RoutedBody) {
    this.#req = req
    this.#body = body
  }

  header(name: string): string | undefined {
    const v = this.#req.headers[name]
    return Array.isArray(v) ? v[0] : v
  }

  cookie(name: string): string | undefined {
    this.#cookies ??= parseCookies(this.#req.headers.cookie)
    return this.#cookies.get(name)
  }

  field(name: string): string | undefined {
    return bodyField(this.#body.value(), name)
  }
}

/**
 * A top-level body field; for a native body with one instance, that instance's field; for
 * a V2 body, its request parameters. Numbers and booleans count, as their text.
 */
export function bodyField(body: unknown, name: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const b = body as Record<string, unknown>
  let v = Object.hasOwn(b, name) ? b[name] : undefined
  if (v === undefined && Array.isArray(b.instances) && b.instances.length === 1) {
    const row = b.instances[0]
    if (typeof row === 'object' && row !== null && Object.hasOwn(row, name)) v = (row as Record<string, unknown>)[name]
  }
  if (v === undefined && typeof b.parameters === 'object' && b.parameters !== null && Object.hasOwn(b.parameters, name)) {
    v = (b.parameters as Record<string, unknown>)[name]
  }
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>()
  if (header === undefined) return out
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    const key = part.slice(0, eq).trim()
    let value = part.slice(eq + 1).trim()
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    try {
      value = decodeURIComponent(value)
    } catch { /* keep it raw */ }
    if (!out.has(key)) out.set(key, value)
  }
  return out
}

/** Read `header:NAME`, `cookie:NAME` or `field:NAME` from a request. */
export type KeyReader = (facts: RequestFacts) => string | undefined

export function compileKeyReader(spec: string): KeyReader {
  const colon = spec.indexOf(':')
  const kind = spec.slice(0, colon)
  const name = spec.slice(colon + 1)
  if (kind === 'header') {
    const lower = name.toLowerCase()
    return (f) => f.header(lower)
  }
  if (kind === 'cookie') return (f) => f.cookie(name)
  return (f) => f.field(name)
}
