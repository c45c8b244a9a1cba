import { randomBytes } from 'node:crypto'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm'
import type { Kysely } from 'kysely'
import pg from 'pg'
import type { Migration } from 'kysely/migration'
import { migrate, openDatabase } from '../../src/platform/database.ts'

/**
 * The test suite runs against PGlite in memory (TEST_BACKEND unset or "pglite") and
 * against the PostgreSQL server (TEST_BACKEND=postgres, each test file its own fresh
 * database); Redis is used for short-lived state whenever REDIS_URL is set.
 */
export const backend = process.env.TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite'
const serverUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase<Schema> {
  db: Kysely<Schema>
  /**
   * Another node's view of the same database: on the server, a separately opened
   * connection pool (closed by drop); on PGlite, which is one in-memory object, `db` itself.
   */
  connectAnother(): Promise<Kysely<Schema>>
  drop(): Promise<void>
}

/** A database of the test's own; with `migrations`, migrated before it is handed over. */
export async function freshDatabase<Schema>(options: { migrations?: Record<string, Migration> } = {}): Promise<TestDatabase<Schema>> {
  const database = await emptyDatabase<Schema>()
  if (options.migrations) await migrate(database.db as Kysely<unknown>, options.migrations)
  return database
}

async function emptyDatabase<Schema>(): Promise<TestDatabase<Schema>> {
  if (backend === 'pglite') {
    const db = await openDatabase<Schema>({ memory: true, dataDir: await emptyCluster() })
    return { db, connectAnother: async () => db, drop: () => db.destroy() }
  }
  const name = `test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const db = await openDatabase<Schema>({ url: url.toString() })
  const others: Kysely<Schema>[] = []
  return {
    db,
    async connectAnother() {
      const other = await openDatabase<Schema>({ url: url.toString() })
      others.push(other)
      return other
    },
    async drop() {
      await Promise.all([db, ...others].map((pool) => pool.destroy()))
      const cleanup = new pg.Client({ connectionString: serverUrl })
      await cleanup.connect()
      await cleanup.query(`drop database if exists ${name} with (force)`)
      await cleanup.end()
    }
  }
}

export function redisSettings(): { redisUrl: string | undefined, redisPrefix: string } {
  return { redisUrl: process.env.REDIS_URL || undefined, redisPrefix: `test:${randomBytes(6).toString('hex')}:` }
}

let cluster: Promise<Blob> | undefined

/**
 * A freshly initialised PGlite cluster (initdb, nothing of ours in it), as a data folder
 * dump. Running initdb in WebAssembly costs 2–4 s of CPU for every in-memory database;
 * loading this costs a fifth of that. It is made once per PGlite version and kept in the
 * temporary folder (written aside, then renamed, so a reader never sees half a file);
 * each database starts from it and runs its own migrations as before.
 */
function emptyCluster(): Promise<Blob> {
  cluster ??= (async () => {
    const version = JSON.parse(await readFile(fileURLToPath(new URL('../package.json', import.meta.resolve('@electric-sql/pglite'))), 'utf8')).version as string
    const file = join(tmpdir(), `pglite-${version}-empty-cluster.tar`)
    const kept = await readFile(file).catch(() => undefined)
    if (kept) return new Blob([kept])
    const fresh = await PGlite.create({ extensions: { pg_trgm } })
    const dump = await fresh.dumpDataDir('none')
    await fresh.close()
    const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
    await writeFile(aside, Buffer.from(await dump.arrayBuffer()))
    await rename(aside, file).catch(() => rm(aside, { force: true }))
    return dump
  })()
  return cluster
}
