/**
 * createGateway(): the public entry. Wires the model pool, the data plane and the control
 * plane onto one node:http server. The server listens at once; versions load in the
 * background and report their state (GET /v1/models, /v2/health/ready).
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolveOptions } from './config/options.js'
import type { GatewayOptions } from './config/options.js'
import { createControlPlane } from './http/control-plane.js'
import { createDataPlane } from './http/data-plane.js'
import { createLogger } from './log.js'
import type { Logger } from './log.js'
import { ModelPool } from './runtime/model-pool.js'
import { SERVER_INFO } from './version.js'

export interface Gateway {
  readonly options: GatewayOptions
  readonly server: Server
  readonly pool: ModelPool
  readonly log: Logger
  /** Resolves when every version has finished loading (ready or failed). */
  readonly loaded: Promise<void>
  /** Listen on options.host:options.port; resolves to the port actually bound. */
  listen(): Promise<number>
  /** Stop accepting, let in-flight requests finish, release the sessions. */
  close(): Promise<void>
}

export async function createGateway(overrides: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const options = resolveOptions(overrides)
  const log = createLogger(options.logLevel)
  const pool = await ModelPool.scan(options, log)
  const dataPlane = createDataPlane(pool, options, SERVER_INFO, log)
  const controlPlane = createControlPlane(pool, log)
  const server = createServer((req, res) => {
    if (!dataPlane(req, res)) controlPlane(req, res)
  })
  const loaded = pool.loadAll()
  return {
    options,
    server,
    pool,
    log,
    loaded,
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject)
        server.listen(options.port, options.host, () => {
          server.off('error', reject)
          resolve((server.address() as AddressInfo).port)
        })
      }),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
      await loaded
      await pool.close()
    },
  }
}

export type { GatewayOptions } from './config/options.js'
