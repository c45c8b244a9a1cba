import fs from 'node:fs'
import path from 'node:path'
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely'
import { Migrator, type Migration } from 'kysely/migration'
import pg from 'pg'
import { lockDataFolder } from './data-folder-lock.ts'

/**
 * One query interface (Kysely) over two engines with the same SQL: PGlite, Postgres
 * compiled to WebAssembly and embedded in the process (development, fast tests), and
 * a PostgreSQL server (production, CI).
 */
/** `memory` may start from `dataDir`, a data folder PGlite dumped (tests: a cluster initialised once, not per database). */
export type DatabaseLocation = { url: string } | { directory: string } | { memory: true, dataDir?: Blob }

export interface DatabaseSettings {
  /** A PostgreSQL server that does not accept a connection within this long is unavailable (the request gets a 503). */
  connectTimeoutMs?: number
}

export async function openDatabase<Schema>(location: DatabaseLocation, settings: DatabaseSettings = {}): Promise<Kysely<Schema>> {
  if ('url' in location) {
    const pool = new pg.Pool({
      connectionString: location.url,
      max: 10,
      // Bounded waits: for a new connection, and for a free one when all ten are busy.
      connectionTimeoutMillis: settings.connectTimeoutMs ?? 5000,
      // Notices a server that vanished without closing the connection (a failover, a cut network).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000
    })
    // An idle connection dropped by the server (restart, failover, a test's dropped
    // database) must not crash the process; the pool replaces it on next use.
    pool.on('error', () => {})
    return new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
  }
  // PGlite is imported only for the embedded database: a service on a PostgreSQL server never loads it.
  const [{ PGlite }, { pg_trgm }, { PGliteDialect }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite/contrib/pg_trgm'), import('./pglite-dialect.ts')])
  // pg_trgm (trigram indexes for searching by part of a name) is built in on a server; PGlite loads it only if offered.
  // shared_buffers: PostgreSQL's default of 128 MB lives in the WebAssembly memory, which
  // never shrinks; 16 MB holds a development or test database and saves ~135 MB of RSS
  // per service (docs/performance.md, Memory).
  const options = { extensions: { pg_trgm }, startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'] }
  if ('memory' in location) {
    // A test database may start from a saved empty cluster (test/support/databases.ts) instead of running initdb.
    return new Kysely<Schema>({ dialect: new PGliteDialect(await PGlite.create({ ...options, ...(location.dataDir ? { loadDataDir: location.dataDir } : {}) })) })
  }
  // One process at a time on a data folder (data-folder-lock.ts): taken before opening, released on destroy.
  const release = lockDataFolder(location.directory)
  try {
    fs.mkdirSync(location.directory, { recursive: true })
    const client = await PGlite.create(location.directory, options)
    const db = new Kysely<Schema>({ dialect: new PGliteDialect(client, release) })
    // Kysely hands destroy() on to the driver (which closes PGlite and gives the lock back)
    // only once the driver has been used: use it now, so closing always lets go.
    await sql`select 1`.execute(db)
    return db
  } catch (error) {
    release()
    throw error
  }
}

/** Where the database is, for start-up messages: never the credentials in a URL. */
export function describeLocation(location: DatabaseLocation): string {
  if ('url' in location) {
    const url = new URL(location.url)
    return `PostgreSQL at ${url.host}${url.pathname}`
  }
  if ('directory' in location) {
    const relative = path.relative(process.cwd(), location.directory)
    const shown = relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : path.resolve(location.directory)
    return `embedded, in ${shown}; a first start creates it`
  }
  return 'embedded, in memory'
}

/** Applies every migration not yet applied, in name order. */
export async function migrate(db: Kysely<unknown>, migrations: Record<string, Migration>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/**
 * Waits until no other transaction, on any node, holds the lock of this name, and holds
 * it until this transaction ends: for check-then-create that every node may run at once
 * on first start (a signing key, demo data). Kysely's Migrator takes a lock of its own.
 */
export async function lockUntilCommit<Schema>(trx: Transaction<Schema>, name: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${name}))`.execute(trx)
}

