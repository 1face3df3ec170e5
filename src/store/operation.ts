/**
 * A store operation written once for both stores: a generator that yields SQL (with `?`
 * placeholders) and receives the rows. The SQLite store runs it synchronously inside one
 * transaction, the PostgreSQL store statement by statement inside one transaction (their
 * `runOperation`). A statement that fails is thrown back into the generator, which may turn
 * it into its own error (a constraint into a 409) or let it pass.
 */

export interface Sql {
  readonly sql: string
  readonly params: readonly unknown[]
}

export type Rows = Record<string, unknown>[]
export type Operation<T> = Generator<Sql, T, Rows>

export const sql = (text: string, ...params: unknown[]): Sql => ({ sql: text, params })
