/** switchyard serve: flags, then environment (SWITCHYARD_*), then DEFAULTS. */
import { parseArgs } from 'node:util'
import { DEFAULTS } from '../config/options.js'
import type { GatewayOptions, LogLevel } from '../config/options.js'
import { formatProblem } from '../config/routes-load.js'
import type { ConfigProblem } from '../config/routes-load.js'
import { createGateway } from '../index.js'

const HELP = `usage: switchyard serve [options]

  --port N              port to listen on (SWITCHYARD_PORT, default ${DEFAULTS.port})
  --host H              address to bind (SWITCHYARD_HOST, default ${DEFAULTS.host})
  --models DIR          model repository (SWITCHYARD_MODELS, default ./${DEFAULTS.modelsDir})
  --routes FILE         traffic config (SWITCHYARD_ROUTES, default ./${DEFAULTS.routesPath}); re-read on save and on SIGHUP
  --no-watch            do not watch routes.yaml and models/ (SIGHUP and the /admin endpoints still apply changes)
  --max-body-bytes N    largest request body (SWITCHYARD_MAX_BODY_BYTES, default ${DEFAULTS.maxBodyBytes})
  --max-request-rows N  most rows a request (SWITCHYARD_MAX_REQUEST_ROWS, default ${DEFAULTS.maxRequestRows})
  --no-coalesce         run every request on its own instead of sharing runs
  --store S             inference log: sqlite:PATH, postgres://user@host:5432/db or none
                        (SWITCHYARD_STORE, default ${DEFAULTS.store})
  --spill-dir DIR       the journal of records not yet stored, and where records wait on disk
                        while the store is unreachable (SWITCHYARD_SPILL_DIR, default ./${DEFAULTS.spillDir})
  --flush-interval-ms N longest time from an answer to its record being in the journal; a kill -9
                        loses at most this much (SWITCHYARD_FLUSH_INTERVAL_MS, default ${DEFAULTS.flushIntervalMs})
                        SWITCHYARD_HASH_KEY (environment only) keys the hash of private input fields
  --tokens FILE         API tokens (SWITCHYARD_TOKENS_FILE, default ./${DEFAULTS.tokensPath}); SWITCHYARD_TOKENS
                        adds name:role:sha256,... from the environment. Create one: switchyard token new
  --predict-auth        prediction endpoints need a token too (SWITCHYARD_PREDICT_AUTH=1)
  --no-auth             no tokens anywhere: every caller is an anonymous admin (local development only)
  --log-level L         debug, info, warn, error or silent (SWITCHYARD_LOG_LEVEL, default ${DEFAULTS.logLevel})`

export async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      models: { type: 'string' },
      routes: { type: 'string' },
      'no-watch': { type: 'boolean' },
      'max-body-bytes': { type: 'string' },
      'max-request-rows': { type: 'string' },
      'no-coalesce': { type: 'boolean' },
      store: { type: 'string' },
      'spill-dir': { type: 'string' },
      'flush-interval-ms': { type: 'string' },
      tokens: { type: 'string' },
      'predict-auth': { type: 'boolean' },
      'no-auth': { type: 'boolean' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  const env = process.env
  const options: Partial<GatewayOptions> = {
    port: integer('--port', values.port ?? env.SWITCHYARD_PORT),
    host: values.host ?? env.SWITCHYARD_HOST,
    modelsDir: values.models ?? env.SWITCHYARD_MODELS,
    routesPath: values.routes ?? env.SWITCHYARD_ROUTES,
    watchRoutes: values['no-watch'] ? false : undefined,
    maxBodyBytes: integer('--max-body-bytes', values['max-body-bytes'] ?? env.SWITCHYARD_MAX_BODY_BYTES),
    maxRequestRows: integer('--max-request-rows', values['max-request-rows'] ?? env.SWITCHYARD_MAX_REQUEST_ROWS),
    coalesce: values['no-coalesce'] ? false : undefined,
    logLevel: (values['log-level'] ?? env.SWITCHYARD_LOG_LEVEL) as LogLevel | undefined,
    store: values.store ?? env.SWITCHYARD_STORE,
    spillDir: values['spill-dir'] ?? env.SWITCHYARD_SPILL_DIR,
    flushIntervalMs: integer('--flush-interval-ms', values['flush-interval-ms'] ?? env.SWITCHYARD_FLUSH_INTERVAL_MS),
    hashKey: env.SWITCHYARD_HASH_KEY,
    auth: values['no-auth'] ? false : undefined,
    tokensPath: values.tokens ?? env.SWITCHYARD_TOKENS_FILE,
    tokensFromEnv: env.SWITCHYARD_TOKENS,
    predictRequiresToken: values['predict-auth'] || env.SWITCHYARD_PREDICT_AUTH === '1' ? true : undefined,
  }
  let gateway: Awaited<ReturnType<typeof createGateway>>
  try {
    gateway = await createGateway(options)
  } catch (err) {
    const problems = (err as { problems?: ConfigProblem[] }).problems
    if (problems === undefined) throw err
    process.stderr.write(`switchyard: ${(err as Error).message}\n${problems.map((p) => `  ${formatProblem(p, options.routesPath ?? DEFAULTS.routesPath)}`).join('\n')}\n`)
    return 1
  }
  const port = await gateway.listen()
  gateway.log.info('listening', { url: `http://${gateway.options.host === '0.0.0.0' ? '127.0.0.1' : gateway.options.host}:${port}` })
  await gateway.loaded
  for (const model of gateway.pool.models()) {
    for (const v of model.versions.values()) {
      process.stdout.write(`${model.name}/${v.version}: ${v.state}${v.reason ? ` (${v.reason})` : ''}\n`)
    }
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      gateway.log.info('stopping', { signal })
      gateway.close().then(resolve, resolve)
    }
    process.on('SIGHUP', () => {
      void gateway.pool.rescan().then(() => gateway.routes.reload('SIGHUP'))
    })
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
  return 0
}

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got '${value}'`)
  return n
}
