import { parse, protocol, type PGlite } from '@electric-sql/pglite'
import {
  CompiledQuery, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler,
  type DatabaseConnection, type Dialect, type Driver, type Kysely, type QueryResult
} from 'kysely'

/**
 * Kysely over PGlite, the embedded database (ADR 4, ADR 27).
 *
 * PGlite has a single connection. Kysely hands a connection to each query and holds
 * one for the length of a transaction, so a lock around the connection keeps one
 * request's statements out of another's transaction.
 *
 * Each query is one trip into PostgreSQL, as node-postgres sends it to a server:
 * parse, bind, describe, execute and sync together, the parameters as text of no
 * declared type, for PostgreSQL to infer (ADR 27). PGlite's own `query()` makes five
 * trips and asks for the parameters' types first. And the statements the services run
 * again and again are kept prepared, by name: PostgreSQL then neither parses nor (once
 * it settles on a generic plan) plans them again. In WebAssembly, in the service's own
 * process, planning a one-row lookup cost more than running it.
 */
export class PGliteDialect implements Dialect {
  readonly #client: PGlite
  readonly #onDestroyed: (() => void) | undefined
  constructor(client: PGlite, onDestroyed?: () => void) {
    this.#client = client
    this.#onDestroyed = onDestroyed
  }
  createAdapter() { return new PostgresAdapter() }
  createDriver(): Driver { return new PGliteDriver(this.#client, this.#onDestroyed) }
  createIntrospector(db: Kysely<unknown>) { return new PostgresIntrospector(db) }
  createQueryCompiler() { return new PostgresQueryCompiler() }
}

class PGliteDriver implements Driver {
  readonly #client: PGlite
  readonly #onDestroyed: (() => void) | undefined
  readonly #statements = new PreparedStatements()
  #queue: Promise<void> = Promise.resolve()
  #release: (() => void) | undefined
  constructor(client: PGlite, onDestroyed?: () => void) {
    this.#client = client
    this.#onDestroyed = onDestroyed
  }
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#queue
    let release!: () => void
    this.#queue = new Promise<void>((resolve) => { release = resolve })
    await previous
    this.#release = release
    return new PGliteConnection(this.#client, this.#statements)
  }
  async releaseConnection(): Promise<void> {
    const release = this.#release
    this.#release = undefined
    release?.()
  }
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'))
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }
  async destroy(): Promise<void> {
    await this.#queue
    try {
      await this.#client.close()
    } finally {
      this.#onDestroyed?.()
    }
  }
}

class PGliteConnection implements DatabaseConnection {
  readonly #client: PGlite
  readonly #statements: PreparedStatements
  constructor(client: PGlite, statements: PreparedStatements) {
    this.#client = client
    this.#statements = statements
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const { name, isNew } = this.#statements.nameFor(query.sql)
    const messages = this.#statements.takeClosings()
    if (name === undefined || isNew) messages.push(serialize.parse({ name: name ?? '', text: query.sql }))
    messages.push(
      serialize.bind({ statement: name ?? '', values: query.parameters.map(toParameter) }),
      serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()
    )
    let replies
    try {
      ({ messages: replies } = await this.#client.execProtocol(concatenate(messages)))
    } catch (error) {
      // A statement just sent to be prepared may or may not exist now: close it, to be
      // prepared afresh next time. One already prepared stays (a unique violation, say,
      // says nothing against it), unless a table it reads changed shape under it.
      if (name !== undefined && (isNew || isStalePlan(error))) this.#statements.forget(query.sql)
      if (name !== undefined && !isNew && isStalePlan(error) && !this.#client.isInTransaction()) return this.executeQuery(query)
      throw error
    }
    const [result] = parse.parseResults(replies, this.#client.parsers)
    const affected = result?.affectedRows
    return {
      rows: (result?.rows ?? []) as R[],
      ...(affected === undefined ? {} : { numAffectedRows: BigInt(affected) })
    }
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite does not stream results')
  }
}

const serialize = protocol.serialize

/**
 * The statements kept prepared, by their SQL: the most recently used `limit`. Only
 * queries and changes of rows are kept (not `begin`, nor a migration's DDL), so a name
 * never outlives the shape it was planned for without PostgreSQL saying so. A statement
 * dropped from the list is closed with the next query, which works in any state of the
 * session, a failed transaction included; closing one that does not exist is no error.
 */
export class PreparedStatements {
  readonly #names = new Map<string, string>()
  #closings: string[] = []
  #counter = 0
  readonly limit: number
  constructor(limit = 500) {
    this.limit = limit
  }

  nameFor(text: string): { name: string | undefined, isNew: boolean } {
    if (!keepable.test(text)) return { name: undefined, isNew: false }
    const known = this.#names.get(text)
    if (known !== undefined) {
      // Most recently used last: Map keeps insertion order.
      this.#names.delete(text)
      this.#names.set(text, known)
      return { name: known, isNew: false }
    }
    const name = `kept_${++this.#counter}`
    this.#names.set(text, name)
    if (this.#names.size > this.limit) {
      const [oldestText, oldestName] = this.#names.entries().next().value!
      this.#names.delete(oldestText)
      this.#closings.push(oldestName)
    }
    return { name, isNew: true }
  }

  /** Drops the statement kept for this SQL, to be closed with the next query. */
  forget(text: string): void {
    const name = this.#names.get(text)
    if (name === undefined) return
    this.#names.delete(text)
    this.#closings.push(name)
  }

  takeClosings(): Uint8Array[] {
    const closings = this.#closings.map((name) => serialize.close({ type: 'S', name }))
    this.#closings = []
    return closings
  }

  get size(): number { return this.#names.size }
}

const keepable = /^\s*(select|insert|update|delete|with)\b/i

/** "cached plan must not change result type": a table a kept `select *` reads gained or lost a column. */
function isStalePlan(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '0A000'
}

/**
 * A parameter as node-postgres sends it to a server, so one SQL text behaves the same on
 * both engines: text for PostgreSQL to read as the type the statement needs; bytes as
 * bytes (binary).
 */
export function toParameter(value: unknown): string | Uint8Array | null {
  if (value === null || value === undefined) return null
  if (value instanceof Uint8Array) return value
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return arrayLiteral(value)
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

function arrayLiteral(values: unknown[]): string {
  return `{${values.map((value) => {
    if (value === null || value === undefined) return 'NULL'
    if (Array.isArray(value)) return arrayLiteral(value)
    if (value instanceof Uint8Array) return `"\\\\x${Buffer.from(value).toString('hex')}"`
    const text = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value)
    return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
  }).join(',')}}`
}

function concatenate(parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const whole = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    whole.set(part, offset)
    offset += part.length
  }
  return whole
}
