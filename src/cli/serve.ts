/** switchyard serve: flags, then environment (SWITCHYARD_*), then DEFAULTS (config/options.ts). */
import cluster from 'node:cluster'
import { createServer } from 'node:net'
import { Command, Option } from 'commander'
import { DEFAULTS, describeDefault, SERVE_OPTIONS } from '../config/options.js'
import type { GatewayOptions } from '../config/options.js'
import { formatProblem } from '../config/routes-load.js'
import type { ConfigProblem } from '../config/routes-load.js'
import { createGateway } from '../index.js'
import { createLogger, flushLogs } from '../log.js'
import { drainWhenPrimaryGoes, joinCluster, runPrimary, workerIndex } from './cluster.js'
import { exitWith, reader, usageError } from './command.js'

export function serveCommand(): Command {
  const command = new Command('serve').description('serve the model repository (the default command)')
  const attributes = new Map<string, string>() // option key -> commander's attribute name
  for (const spec of SERVE_OPTIONS) {
    if (spec.flag === null) continue
    const option = new Option(spec.flag, `${spec.help} (${spec.env === null ? '' : `${spec.env}, `}default ${describeDefault(spec)})`)
    if (option.required) option.argParser(reader(spec.parse))
    command.addOption(option)
    attributes.set(spec.key, option.attributeName())
  }
  const environmentOnly = SERVE_OPTIONS.filter((s) => s.flag === null).map((s) => `  ${s.env}  ${s.help}`)
  command.addHelpText('after', `\nFrom the environment only:\n${environmentOnly.join('\n')}`)
  command.action(exitWith(async (_values: unknown, self: Command) => {
    try {
      return await serve(readOptions(self, attributes))
    } finally {
      if (cluster.worker?.isConnected()) cluster.worker.disconnect() // a worker's channel to the primary would keep it running
    }
  }))
  return command
}

/** Each option from its flag when given, else from its environment variable when set. */
function readOptions(command: Command, attributes: ReadonlyMap<string, string>): Partial<GatewayOptions> {
  const values = command.opts()
  const options: Partial<Record<keyof GatewayOptions, unknown>> = {}
  for (const spec of SERVE_OPTIONS) {
    const attribute = attributes.get(spec.key)
    if (attribute !== undefined && command.getOptionValueSource(attribute) === 'cli') {
      options[spec.key] = values[attribute]
    } else if (spec.env !== null && process.env[spec.env] !== undefined) {
      try {
        options[spec.key] = spec.parse(process.env[spec.env]!)
      } catch (err) {
        usageError(command, `environment variable ${spec.env} ${(err as Error).message}`)
      }
    }
  }
  return options as Partial<GatewayOptions>
}

async function serve(options: Partial<GatewayOptions>): Promise<number> {
  const port = options.port ?? DEFAULTS.port
  const host = options.host ?? DEFAULTS.host
  // before anything loads: a busy port found after the models and the store would leave them running
  const grpcPort = options.grpcPort ?? DEFAULTS.grpcPort
  const worker = workerIndex() // null: this process serves alone, or is the primary of --workers
  // the primary checked the ports; a worker's probe would go through the primary's shared handle
  const unavailable = worker !== null ? null : await whyCannotListen(port, host, '--port') ?? (grpcPort === 0 ? null : await whyCannotListen(grpcPort, host, '--grpc-port (0 turns gRPC off)'))
  if (unavailable !== null) {
    process.stderr.write(`switchyard: ${unavailable}\n`)
    return 1
  }
  const workers = options.workers ?? DEFAULTS.workers
  if (workers > 1 && cluster.isPrimary) return runPrimary(workers, createLogger(options.logLevel ?? DEFAULTS.logLevel))
  let gateway: Awaited<ReturnType<typeof createGateway>>
  try {
    gateway = await createGateway(options)
  } catch (err) {
    const problems = (err as { problems?: ConfigProblem[] }).problems
    if (problems === undefined) throw err
    await flushLogs() // what the start logged comes before the problems
    process.stderr.write(`switchyard: ${(err as Error).message}\n${problems.map((p) => `  ${formatProblem(p, options.routesPath ?? DEFAULTS.routesPath)}`).join('\n')}\n`)
    return 1
  }
  if (worker !== null) joinCluster(gateway)
  let bound: number
  try {
    bound = await gateway.listen()
  } catch (err) {
    await flushLogs()
    // taken between the check and now
    process.stderr.write(`switchyard: ${listenFailure(err, port, host, '--port') ?? (err as Error).message}\n`)
    await gateway.close()
    return 1
  }
  const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host
  gateway.log.info('listening', { url: `http://${shownHost}:${bound}`, ...(gateway.grpc === null ? {} : { grpc: `${shownHost}:${gateway.grpc.port}` }) })
  // the handlers come before the models finish loading: a stop while they load must still flush
  // the log, and in a container node is process 1, which ignores a signal it has no handler for
  const stopped = new Promise<void>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      // a worker hears a terminal's SIGINT and then the primary's SIGTERM: one drain
      if (stopping) return
      stopping = true
      gateway.log.info('stopping', { signal })
      gateway.close().then(resolve, (err: Error) => {
        gateway.log.error('the stop did not finish cleanly', { err: String(err?.stack ?? err) })
        resolve()
      })
    }
    process.on('SIGHUP', () => {
      // reload() records its own failures as rejections; a rescan that throws must not end the process either
      gateway.pool.rescan().then(() => gateway.routes.reload('SIGHUP')).catch((err: Error) => gateway.log.error('SIGHUP: the rescan failed', { err: err.message }))
    })
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    if (worker !== null) drainWhenPrimaryGoes(() => stop('the primary is gone'))
  })
  // under --workers the first worker speaks for all: N copies of the same lines say nothing more
  if (await Promise.race([gateway.loaded.then(() => true), stopped.then(() => false)]) && (worker === null || worker === 1)) {
    for (const model of gateway.pool.models()) {
      for (const v of model.versions.values()) {
        process.stdout.write(`${model.name}/${v.version}: ${v.state}${v.reason ? ` (${v.reason})` : ''}\n`)
      }
    }
  }
  await stopped
  gateway.log.info('stopped')
  await flushLogs()
  return 0
}

/** Bind and release the address once; null when it is free (port 0 always is). */
function whyCannotListen(port: number, host: string, flag: string): Promise<string | null> {
  if (port === 0) return Promise.resolve(null)
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', (err) => resolve(listenFailure(err, port, host, flag) ?? `cannot listen on ${host}:${port}: ${err.message}`))
    probe.listen(port, host, () => probe.close(() => resolve(null)))
  })
}

function listenFailure(err: unknown, port: number, host: string, flag: string): string | null {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE': return `port ${port} is in use; pick another with ${flag}`
    case 'EACCES': return `port ${port} needs privileges this user does not have; pick one above 1023 with ${flag}`
    case 'EADDRNOTAVAIL': return `${host} is not an address of this machine; pick one with --host`
    default: return null
  }
}
