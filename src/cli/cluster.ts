/**
 * `switchyard serve --workers N`: the primary process forks N workers (node:cluster) that share
 * the HTTP and gRPC ports, each a whole gateway with its own model sessions and its own
 * inference-log writer (docs/architecture.md says why). The primary serves nothing itself: it
 * restarts a worker that dies, passes SIGTERM, SIGINT and SIGHUP on to every worker, and sums the
 * workers' metrics for whichever worker is asked for /metrics.
 */
import cluster from 'node:cluster'
import type { Worker } from 'node:cluster'
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client'
import type { Gateway } from '../index.js'
import { flushLogs } from '../log.js'
import type { Logger } from '../log.js'

/** Which of the N places a worker fills (1..N); a restarted worker takes the place of the one that died. */
const WORKER_INDEX_ENV = 'SWITCHYARD_WORKER_INDEX'
const ASK_TOTALS = 'switchyard:metrics-totals'
const ASK_OWN = 'switchyard:metrics-own'
const METRICS_WAIT_MS = 2_000 // a worker that does not answer in this time is left out of one scrape
const QUICK_DEATH_MS = 5_000 // a worker that dies sooner after its start is restarted after a growing pause
const MAX_RESTART_PAUSE_MS = 30_000

/** One registry's figures as getMetricsAsJSON gives them, what AggregatorRegistry.aggregate sums. */
type Figures = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

interface Message {
  readonly type: string
  readonly id: number
  readonly text?: string
  readonly metrics?: Figures
}

/** In a worker: its place, 1..N; null in a process that is not a worker. */
export function workerIndex(): number | null {
  return cluster.isWorker ? Number(process.env[WORKER_INDEX_ENV]) : null
}

/** Fork `count` workers and keep them running until SIGTERM or SIGINT; resolves to the exit code. */
export async function runPrimary(count: number, log: Logger): Promise<number> {
  const registry = new Registry()
  const restarts = new Counter({ name: 'switchyard_worker_restarts_total', help: 'Workers (--workers) that died and were started again', registers: [registry] })
  new Gauge({ name: 'switchyard_workers', help: 'Worker processes running now (--workers)', registers: [registry], collect() { this.set(Object.keys(cluster.workers ?? {}).length) } })
  const places = new Map<number, Worker>()
  const startedAt = new Map<Worker, number>()
  let stopping = false
  let quickDeaths = 0
  let nextId = 0

  const fork = (index: number): Worker => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) })
    places.set(index, worker)
    startedAt.set(worker, Date.now())
    return worker
  }
  /** Resolves true once the worker listens, false when it exits first (its own message says why). */
  const started = (worker: Worker): Promise<boolean> => new Promise((resolve) => {
    worker.once('listening', () => resolve(true))
    worker.once('exit', () => resolve(false))
  })
  const stopAll = (): Promise<void> => {
    stopping = true
    const exits = [...places.values()].filter((w) => !w.isDead()).map((w) => new Promise<void>((resolve) => {
      w.once('exit', () => resolve())
      w.process.kill('SIGTERM')
    }))
    return Promise.all(exits).then(() => undefined)
  }

  // a worker asked for /metrics: every worker's own figures, summed, and the primary's
  cluster.on('message', (asker, message: Message) => {
    if (message?.type !== ASK_TOTALS) return
    const id = nextId++
    const workers = [...places.values()].filter((w) => w.isConnected())
    const answers = workers.map((w) => new Promise<Figures | null>((resolve) => {
      const timer = setTimeout(() => { w.off('message', listen); resolve(null) }, METRICS_WAIT_MS)
      const listen = (reply: Message) => {
        if (reply?.type !== ASK_OWN || reply.id !== id) return
        clearTimeout(timer)
        w.off('message', listen)
        resolve(reply.metrics ?? null)
      }
      w.on('message', listen)
      w.send({ type: ASK_OWN, id })
    }))
    void Promise.all([...answers, registry.getMetricsAsJSON()]).then((all) =>
      AggregatorRegistry.aggregate(all.filter((m): m is Figures => m !== null)).metrics(),
    ).then((text) => {
      if (asker.isConnected()) asker.send({ type: ASK_TOTALS, id: message.id, text })
    })
  })

  // before the first fork: a stop while the workers start must reach them too
  let finish!: (code: number) => void
  const finished = new Promise<number>((resolve) => (finish = resolve))
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    log.info('stopping every worker', { signal })
    void stopAll().then(() => {
      log.info('every worker stopped')
      return flushLogs()
    }).then(() => finish(0))
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  // a terminal's Ctrl-C reaches the workers too; SIGTERM from here is their second, different signal
  process.once('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => { for (const w of places.values()) if (!w.isDead()) w.process.kill('SIGHUP') })

  // the first alone: a mistake in the configuration is reported once, not N times
  const first = fork(1)
  if (!(await started(first))) return stopping ? finished : (first.process.exitCode ?? 1)
  const rest = Array.from({ length: count - 1 }, (_, i) => fork(i + 2))
  if (!(await Promise.all(rest.map(started))).every(Boolean)) {
    if (stopping) return finished
    await stopAll()
    return 1
  }

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    const index = [...places].find(([, w]) => w === worker)?.[0]
    if (index === undefined) return
    restarts.inc()
    const lived = Date.now() - (startedAt.get(worker) ?? 0)
    startedAt.delete(worker)
    quickDeaths = lived < QUICK_DEATH_MS ? quickDeaths + 1 : 0
    const pause = quickDeaths === 0 ? 0 : Math.min(MAX_RESTART_PAUSE_MS, 250 * 2 ** quickDeaths)
    log.error('a worker ended; starting it again', { worker: index, pid: worker.process.pid, ...(signal === null ? { code } : { signal }), pauseMs: pause })
    setTimeout(() => { if (!stopping) fork(index) }, pause)
  })

  return finished
}

/**
 * In a worker: `stop` (drain and exit) when the primary is gone, e.g. killed with -9, which
 * closes the worker's channel to it. node:cluster would end the worker at once (process.exit
 * after this 'disconnect' event unless the disconnect was asked for), cutting the requests in
 * flight and the records not yet written (issue #17); marked as asked for, the worker drains.
 */
export function drainWhenPrimaryGoes(stop: () => void): void {
  const worker = cluster.worker
  worker?.once('disconnect', () => {
    if (worker.exitedAfterDisconnect) return // serve's own disconnect once it has stopped
    worker.exitedAfterDisconnect = true // node:cluster reads it right after this event
    stop()
  })
}

/** In a worker: answer the primary's requests for this worker's figures, and have /metrics answer every worker's sum. */
export function joinCluster(gateway: Gateway): void {
  const waiting = new Map<number, (text: string) => void>()
  let nextId = 0
  process.on('message', (message: Message) => {
    if (message?.type === ASK_OWN) {
      void gateway.metrics.registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: ASK_OWN, id: message.id, metrics }))
    } else if (message?.type === ASK_TOTALS) {
      waiting.get(message.id)?.(message.text ?? '')
      waiting.delete(message.id)
    }
  })
  gateway.metrics.exposition = () => new Promise<string>((resolve) => {
    const id = nextId++
    // the primary answers within METRICS_WAIT_MS; past twice that (it is gone) this worker's own figures
    const timer = setTimeout(() => {
      waiting.delete(id)
      resolve(gateway.metrics.registry.metrics())
    }, 2 * METRICS_WAIT_MS)
    waiting.set(id, (text) => {
      clearTimeout(timer)
      resolve(text)
    })
    process.send?.({ type: ASK_TOTALS, id })
  })
  // which worker answered: a client (or a test) tells them apart, and knows which pid to look at
  const label = `${workerIndex()}/${process.pid}`
  gateway.server.prependListener('request', (_req, res) => res.setHeader('x-switchyard-worker', label))
}
