/**
 * The CLI's way to a running gateway: SWITCHYARD_URL (default http://127.0.0.1:8080) and the
 * token in SWITCHYARD_TOKEN. Errors come back as the gateway's own message and code.
 */
import { Command } from 'commander'

const GATEWAY_HELP = '\nThe gateway is SWITCHYARD_URL (default http://127.0.0.1:8080), the token SWITCHYARD_TOKEN.'

export class GatewayCallError extends Error {
  /** The gateway's HTTP status; 0 when it could not be reached. */
  constructor(message: string, readonly status = 0) {
    super(message)
  }
}

export interface ClientOptions {
  readonly url: string
  readonly token: string | undefined
}

export function clientFromEnv(url?: string): ClientOptions {
  return { url: (url ?? process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, ''), token: process.env.SWITCHYARD_TOKEN }
}

export async function call<T>(client: ClientOptions, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
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
  if (!res.ok) throw new GatewayCallError(`${String(json.error ?? res.statusText)} (${res.status} ${String(json.code ?? '')})`, res.status)
  return json as T
}

const RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000] // the store may be restarting: 15 s in all

/** `send`, again after a pause while the gateway answers 503 (its store is unavailable): safe for idempotent calls only. */
export async function retryingUnavailable<T>(send: () => Promise<T>): Promise<T> {
  for (const delay of RETRY_DELAYS_MS) {
    try {
      return await send()
    } catch (err) {
      if (!(err instanceof GatewayCallError) || err.status !== 503) throw err
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }
  return send()
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)))
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n'
}

/** A call to the gateway that fails is one line and exit 1: the command line itself was fine. */
export async function guarded(run: () => Promise<number>): Promise<number> {
  try {
    return await run()
  } catch (err) {
    if (!(err instanceof GatewayCallError)) throw err
    process.stderr.write(`switchyard: ${err.message}\n`)
    return 1
  }
}

/** A command that talks to a running gateway: --url, and the help says where the token comes from. */
export function gatewayCommand(name: string, description: string): Command {
  return new Command(name).description(description).option('--url <url>', 'the gateway (SWITCHYARD_URL)').addHelpText('after', GATEWAY_HELP)
}
