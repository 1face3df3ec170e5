/**
 * A store operation, written once for both stores: a generator that yields statements and
 * receives each one's rows. One runner per dialect runs it inside one transaction; a statement
 * that fails is thrown back into the generator, which may turn it into its own error (a
 * constraint into a 409) or let it pass.
 *
 *   in a client folder (lifecycle, compare, …):
 *     function* decide(…) { const rows = yield sql(…) }
 *     export const LIFECYCLE_OPERATIONS = namedOperations('lifecycle', { decide: writes(decide) })
 *   in the store worker (the store's one thread):
 *     indexOperations([LIFECYCLE_OPERATIONS, …])      every client's operations, by name
 *     { kind: 'run', name: 'lifecycle.decide', args }  (a call, calls.ts)
 *       ──▶ store.run(op.start(...args), op.mode) ──▶ runOnSqlite | runOnPostgres
 *
 * Generators cannot cross threads: the main thread asks for an operation by its name, with
 * arguments that can be copied, and the store worker starts it.
 */
import type Database from 'better-sqlite3'
import type pg from 'pg'
import { POSTGRES, SQLITE } from './dialect.js'
import type { Dialect } from './dialect.js'

/** One statement, with `?` placeholders. */
export interface Sql {
  readonly sql: string
  readonly params: readonly unknown[]
}

/** A statement whose text differs between the stores (dialect.ts): the runner builds it for its own. */
export type DialectSql = (dialect: Dialect) => Sql

export type Rows = Record<string, unknown>[]
export type Operation<T> = Generator<Sql | DialectSql, T, Rows>

export const sql = (text: string, ...params: unknown[]): Sql => ({ sql: text, params })

/**
 * How an operation's transaction is opened:
 *   write  it may write. SQLite takes the write lock at BEGIN (IMMEDIATE), so what the operation
 *          read stays true until it commits; PostgreSQL reads committed, and an operation that
 *          may race another replica is written for that (lifecycle/operations.ts decide).
 *   read   it only reads, every statement from one snapshot (PostgreSQL REPEATABLE READ READ
 *          ONLY; a SQLite transaction is one snapshot already).
 */
export type TransactionMode = 'write' | 'read'

/** An operation the store worker runs by name. */
export interface NamedOperation<A extends unknown[], T> {
  /** `<client>.<key>`, e.g. `lifecycle.decide`: unique across the clients. */
  readonly name: string
  readonly mode: TransactionMode
  readonly start: (...args: A) => Operation<T>
}

interface Registration<A extends unknown[], T> {
  readonly mode: TransactionMode
  readonly start: (...args: A) => Operation<T>
}

export const writes = <A extends unknown[], T>(start: (...args: A) => Operation<T>): Registration<A, T> => ({ mode: 'write', start })
export const reads = <A extends unknown[], T>(start: (...args: A) => Operation<T>): Registration<A, T> => ({ mode: 'read', start })

// `any`: one registry holds operations of every argument list and result
type AnyRegistration = Registration<any, any>

export type NamedOperations<R extends Record<string, AnyRegistration>> = {
  readonly [K in keyof R]: R[K] extends Registration<infer A, infer T> ? NamedOperation<A, T> : never
}

/**
 * A client's operations, each named `<client>.<key>`, for the store worker's index and for the
 * main thread's calls (store-client.ts).
 * @example export const LIFECYCLE_OPERATIONS = namedOperations('lifecycle', { decide: writes(decide), listStages: reads(listStages) })
 */
export function namedOperations<R extends Record<string, AnyRegistration>>(client: string, registrations: R): NamedOperations<R> {
  const named = Object.entries(registrations).map(([key, r]) => [key, { name: `${client}.${key}`, mode: r.mode, start: r.start }])
  return Object.freeze(Object.fromEntries(named)) as NamedOperations<R>
}

export type OperationIndex = ReadonlyMap<string, NamedOperation<unknown[], unknown>>

/** Every client's operations by name, assembled where the store worker starts; a name given twice is a mistake. */
export function indexOperations(registries: readonly Readonly<Record<string, NamedOperation<never, unknown>>>[]): OperationIndex {
  const index = new Map<string, NamedOperation<unknown[], unknown>>()
  for (const op of registries.flatMap((r) => Object.values(r))) {
    if (index.has(op.name)) throw new Error(`two store operations are named '${op.name}'`)
    index.set(op.name, op as unknown as NamedOperation<unknown[], unknown>)
  }
  return index
}

const statementFor = (s: Sql | DialectSql, dialect: Dialect): Sql => (typeof s === 'function' ? s(dialect) : s)

/** In one SQLite transaction: better-sqlite3's, whose BEGIN IMMEDIATE takes the write lock first. */
export function withSqliteTransaction<T>(db: Database.Database, mode: TransactionMode, body: () => T): T {
  const transaction = db.transaction(body)
  return mode === 'write' ? transaction.immediate() : transaction.deferred()
}

/** SQLite runs an operation synchronously from its first statement to its last: nothing else runs inside its transaction. */
export function runOnSqlite<T>(db: Database.Database, op: Operation<T>, mode: TransactionMode): T {
  return withSqliteTransaction(db, mode, () => runStepsOnSqlite(db, op))
}

/** An operation's statements in the transaction already open on `db` (the store's own, such as the writer's). */
export function runStepsOnSqlite<T>(db: Database.Database, op: Operation<T>): T {
  let step = op.next([])
  while (!step.done) {
    let rows: Rows
    try {
      const { sql, params } = statementFor(step.value, SQLITE)
      const statement = db.prepare(sql)
      rows = statement.reader ? (statement.all(...params) as Rows) : (statement.run(...params), [])
    } catch (err) {
      step = op.throw(err) // the operation may turn a constraint into its own error; else it rethrows
      continue
    }
    step = op.next(rows)
  }
  return step.value
}

const BEGIN: Record<TransactionMode, string> = { write: 'BEGIN', read: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' }

/** `body` on one connection of the pool, in one transaction: committed if it resolves, rolled back if it throws. */
export async function withPostgresTransaction<T>(pool: pg.Pool, mode: TransactionMode, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  // the pool discards the connection at release if it failed meanwhile (postgres-store.ts listens)
  const client = await pool.connect()
  try {
    await client.query(BEGIN[mode])
    const result = await body(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}

/** PostgreSQL runs an operation statement by statement, `?` placeholders numbered `$1`, `$2`, …. */
export function runOnPostgres<T>(pool: pg.Pool, op: Operation<T>, mode: TransactionMode): Promise<T> {
  return withPostgresTransaction(pool, mode, (client) => runStepsOnPostgres(client, op))
}

/** An operation's statements in the transaction already open on `client` (the store's own, such as the writer's). */
export async function runStepsOnPostgres<T>(client: pg.PoolClient, op: Operation<T>): Promise<T> {
  let step = op.next([])
  while (!step.done) {
    let rows: Rows
    try {
      const { sql, params } = statementFor(step.value, POSTGRES)
      let n = 0
      rows = (await client.query(sql.replace(/\?/g, () => `$${++n}`), params as unknown[])).rows
    } catch (err) {
      step = op.throw(err) // the operation may turn a constraint into its own error; else it rethrows
      continue
    }
    step = op.next(rows)
  }
  return step.value
}
