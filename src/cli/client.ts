/**
 * The CLI's way to a running gateway: SWITCHYARD_URL (default http://127.0.0.1:8080) and the
 * token in SWITCHYARD_TOKEN. Errors come back as the gateway's own message and code.
 */
export class GatewayCallError extends Error {}

export interface ClientOptions {
  readonly url: string
  readonly token: string | undefined
}

export function clientFromEnv(url?: string): ClientOptions {
  return { url: (url ?? process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, ''), token: process.env.SWITCHYARD_TOKEN }
}

export async function call<T>(client: ClientOptions, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (client.token) headers.authorization = `Bearer ${client.token}`
  let res: Response
  try {
    res = await fetch(`${client.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch {
    throw new GatewayCallError(`cannot reach the gateway at ${client.url}; start it, or set SWITCHYARD_URL`)
  }
  const text = await res.text()
  const json = text ? (JSON.parse(text) as Record<string, unknown>) : {}
  if (!res.ok) throw new GatewayCallError(`${String(json.error ?? res.statusText)} (${res.status} ${String(json.code ?? '')})`)
  return json as T
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)))
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n'
}
