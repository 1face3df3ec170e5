/**
 * Issue #17 point 4 with real processes: `serve --workers 2` answers from two processes on one
 * port, /metrics on either sums both, SIGTERM to the primary drains both and every answered
 * inference is in the store (SQLite and PostgreSQL, each worker writing its own records), and a
 * worker killed with -9 is started again and counted.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { InferenceClient } from '../../src/grpc/client.js'
import { CREDIT_FEATURES, generateCreditRows } from '../../src/sample-data/credit-default.js'
import { eventually } from '../integration/helpers.js'
import { createTestDatabase } from '../integration/postgres.js'
import { spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const rows = generateCreditRows(64, 17).map((r) => Object.fromEntries(CREDIT_FEATURES.map((f) => [f, (r as Record<string, number>)[f]])))
const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-workers-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * One request on a connection of its own: the primary hands each new connection to a worker, and
 * a kept-alive one would stay with the worker that took it.
 */
function call(gw: GatewayProcess, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; worker: string | null; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.url}${path}`, { method: body === undefined ? 'GET' : 'POST', agent: false, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, worker: res.headers['x-switchyard-worker'] as string ?? null, text }))
    })
    req.on('error', reject)
    // a connection the primary handed to a worker as it was killed is never answered (node:cluster
    // keeps the handle it could not deliver): a client's timeout ends it, as any client's would
    req.setTimeout(5_000, () => req.destroy(new Error('no answer in 5 s')))
    req.end(body)
  })
}

/** One prediction; resolves to the worker that answered ("index/pid"), or null when it failed. */
async function predict(gw: GatewayProcess, id: string): Promise<string | null> {
  const body = JSON.stringify({ instances: [rows[Number(id.split('-').pop()) % rows.length]] })
  const res = await call(gw, '/v1/models/credit-risk/versions/v1/predict', body, { 'content-type': 'application/json', 'x-inference-id': id })
  return res.status === 200 && res.text.includes(id) ? res.worker : null
}

/** `concurrency` requests at a time until stop() or the server stops answering: the worker of each answered id. */
function load(gw: GatewayProcess, concurrency: number, prefix: string): { stop(): void; done: Promise<Map<string, string>> } {
  const answered = new Map<string, string>()
  let next = 0
  let stopped = false
  const client = async () => {
    while (!stopped) {
      const id = `${prefix}-${next++}`
      try {
        const worker = await predict(gw, id)
        if (worker !== null) answered.set(id, worker)
      } catch {
        return // refused or reset: the server is stopping
      }
    }
  }
  const done = Promise.all(Array.from({ length: concurrency }, client)).then(() => answered)
  return { stop: () => (stopped = true), done }
}

/** Answered ids until both workers have answered some (the second starts after the first listens). */
async function untilBothAnswer(gw: GatewayProcess): Promise<Map<string, string>> {
  const all = new Map<string, string>()
  for (let round = 0; round < 50 && new Set(all.values()).size < 2; round++) {
    const traffic = load(gw, 8, `warm${round}`)
    await new Promise((r) => setTimeout(r, 300))
    traffic.stop()
    for (const [id, worker] of await traffic.done) all.set(id, worker)
  }
  return all
}

/** The sum of the values of the lines of /metrics that match. */
async function metric(gw: GatewayProcess, line: RegExp): Promise<number> {
  const { text } = await call(gw, '/metrics')
  return text.split('\n').filter((l) => line.test(l)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}
const INFERENCES_OK = /^switchyard_inferences_total\{model="credit-risk",version="v1",.*outcome="ok"\}/

function sqliteIds(path: string): Set<string> {
  const db = new Database(path, { readonly: true })
  try {
    return new Set(db.prepare('SELECT inference_id FROM inferences').pluck().all() as string[])
  } finally {
    db.close()
  }
}

async function postgresIds(url: string): Promise<Set<string>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return new Set((await client.query<{ inference_id: string }>('SELECT inference_id FROM inferences')).rows.map((r) => r.inference_id))
  } finally {
    await client.end()
  }
}

/** Load, SIGTERM to the primary under it, and the ids answered 200 (every answer, warm-up included). */
async function answeredThroughStop(gw: GatewayProcess): Promise<Map<string, string>> {
  const answered = await untilBothAnswer(gw)
  const traffic = load(gw, 16, 'load')
  await new Promise((r) => setTimeout(r, 1_500))
  gw.child.kill('SIGTERM')
  for (const [id, worker] of await traffic.done) answered.set(id, worker)
  expect(await gw.exited()).toBe(0)
  return answered
}

describe('serve --workers', () => {
  const root = new URL('../..', import.meta.url).pathname
  const serve = (args: string[]) => spawnSync(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--grpc-port', '0', '--store', 'none', '--no-auth', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 })

  it('refuses a count that is neither auto nor 1 to 256 in one line, exit 2', () => {
    const run = serve(['--workers', '0'])
    expect(run.status).toBe(2)
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(/--workers <n>' argument '0' is invalid\. must be auto or an integer from 1 to 256/)
  })

  it('reports an invalid routes.yaml once, not once a worker, and exits 1', () => {
    // a worker left running after its failed start would hold the primary up: spawnSync would time out
    const run = serve(['--workers', '3', '--routes', '/dev/null', '--log-level', 'error'])
    expect(run.status).toBe(1)
    expect(run.stderr.match(/it is not a regular file/g)?.length).toBe(1)
  })
})

describe('serve --workers 2', () => {
  it('answers from two processes, and /metrics on either counts the inferences of both', async () => {
    const gw = await spawnGateway(['--workers', '2', '--store', 'none'])
    try {
      const answered = await untilBothAnswer(gw)
      const workers = new Set(answered.values())
      expect(workers.size).toBe(2)
      expect(new Set([...workers].map((w) => w.split('/')[0]))).toEqual(new Set(['1', '2']))
      // several scrapes, so that both workers are asked: each must show every answer
      for (let i = 0; i < 4; i++) expect(await metric(gw, INFERENCES_OK)).toBe(answered.size)
      expect(await metric(gw, /^switchyard_workers /)).toBe(2)
    } finally {
      gw.child.kill('SIGTERM')
      await gw.exited()
    }
  })

  it('on SIGTERM to the primary drains both workers and stores a record for every answer (SQLite)', async () => {
    const store = join(dir, 'workers.db')
    // a flush interval of a minute: only the shutdown flush can have written the last records
    const gw = await spawnGateway(['--workers', '2', '--store', `sqlite:${store}`, '--spill-dir', join(dir, 'spill-sqlite'), '--flush-interval-ms', '60000'])
    const answered = await answeredThroughStop(gw)
    expect(new Set(answered.values()).size).toBe(2)
    expect(answered.size).toBeGreaterThan(100)
    const stored = sqliteIds(store)
    expect(stored.size).toBe(answered.size)
    for (const id of answered.keys()) expect(stored.has(id)).toBe(true)
  })

  it('on SIGTERM to the primary drains both workers and stores a record for every answer (PostgreSQL)', async () => {
    const database = await createTestDatabase()
    try {
      const gw = await spawnGateway(['--workers', '2', '--store', database.url, '--spill-dir', join(dir, 'spill-pg'), '--flush-interval-ms', '60000'])
      const answered = await answeredThroughStop(gw)
      expect(new Set(answered.values()).size).toBe(2)
      const stored = await postgresIds(database.url)
      expect(stored.size).toBe(answered.size)
      for (const id of answered.keys()) expect(stored.has(id)).toBe(true)
    } finally {
      await database.drop()
    }
  })

  it('passes SIGHUP on to every worker: each applies the edited routes.yaml', async () => {
    const routes = join(dir, 'routes.yaml')
    const original = readFileSync(new URL('../../routes.yaml', import.meta.url), 'utf8')
    writeFileSync(routes, original)
    const gw = await spawnGateway(['--workers', '2', '--store', 'none', '--no-watch', '--routes', routes])
    try {
      await untilBothAnswer(gw) // both have started and installed their handlers
      writeFileSync(routes, original.replace('split: { v1: 90, v2: 10 }', 'split: { v1: 80, v2: 20 }'))
      gw.child.kill('SIGHUP')
      await eventually(async () => expect(await metric(gw, /^switchyard_config_reloads_total\{result="applied"\}/)).toBe(2))
    } finally {
      gw.child.kill('SIGTERM')
      await gw.exited()
    }
  })

  it('shares the gRPC port too: both workers bind it, and channels to it are served', async () => {
    const grpcPort = 20_000 + Math.floor(Math.random() * 20_000)
    // a worker that could not bind would end the start (the primary exits 1 when one fails to listen)
    const gw = await spawnGateway(['--workers', '2', '--store', 'none', '--grpc-port', String(grpcPort)])
    try {
      expect(new Set((await untilBothAnswer(gw)).values()).size).toBe(2)
      const clients = Array.from({ length: 6 }, () => new InferenceClient(`127.0.0.1:${grpcPort}`))
      try {
        for (const live of await Promise.all(clients.map((c) => c.serverLive()))) expect(live).toEqual({ live: true })
      } finally {
        for (const c of clients) c.close()
      }
    } finally {
      gw.child.kill('SIGTERM')
      await gw.exited()
    }
  })

  it('starts a worker killed with -9 again and counts it', async () => {
    const gw = await spawnGateway(['--workers', '2', '--store', 'none'])
    try {
      const before = new Set((await untilBothAnswer(gw)).values())
      const victim = [...before].find((w) => w.startsWith('2/'))!
      process.kill(Number(victim.split('/')[1]), 'SIGKILL')
      await eventually(async () => expect(await metric(gw, /^switchyard_worker_restarts_total /)).toBe(1), 15_000)
      const after = new Set((await untilBothAnswer(gw)).values())
      const second = [...after].find((w) => w.startsWith('2/'))
      expect(second).toBeDefined()
      expect(second).not.toBe(victim)
      expect(await metric(gw, /^switchyard_workers /)).toBe(2)
    } finally {
      gw.child.kill('SIGTERM')
      await gw.exited()
    }
  })

  // issue #17: workers must not outlive a primary killed with -9, nor lose what they answered.
  // node:cluster ended such a worker at once (process.exit), with its last records unwritten.
  it('on kill -9 of the primary, its workers drain and exit, and every answer has its record', async () => {
    const store = join(dir, 'orphans.db')
    const gw = await spawnGateway(['--workers', '2', '--store', `sqlite:${store}`, '--spill-dir', join(dir, 'spill-orphans'), '--flush-interval-ms', '60000'])
    const answered = await untilBothAnswer(gw)
    const pids = [...new Set(answered.values())].map((w) => Number(w.split('/')[1]))
    const isRunning = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    try {
      const traffic = load(gw, 16, 'orphan')
      await new Promise((r) => setTimeout(r, 1_000))
      gw.child.kill('SIGKILL')
      await gw.exited()
      await new Promise((r) => setTimeout(r, 500)) // requests in flight at the kill finish (new connections have no one to take them)
      traffic.stop()
      for (const [id, worker] of await traffic.done) answered.set(id, worker)
      await eventually(async () => expect(pids.filter(isRunning)).toEqual([]), 15_000)
    } finally {
      for (const pid of pids.filter(isRunning)) process.kill(pid, 'SIGKILL')
    }
    const stored = sqliteIds(store)
    const missing = [...answered.keys()].filter((id) => !stored.has(id))
    expect(missing, `${missing.length} of ${answered.size} answers without a record`).toEqual([])
  })
})
