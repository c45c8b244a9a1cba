import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { freshDatabase } from '../../test/support/databases.ts'
import { migrate } from '../platform/database.ts'
import { placementsMigrations } from './database/migrations.ts'
import type { PlacementsDatabase } from './database/schema.ts'
import { seedPlacements } from './seed.ts'

// Several Placements nodes starting together on one empty database: each migrates,
// then (development) seeds. On the server each has its own connection pool.
const count = async (db: Kysely<PlacementsDatabase>, table: 'organisations' | 'users' | 'memberships' | 'support_users') =>
  Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

const rounds = 3

test(`six nodes migrating and seeding one empty database at once: no crash, seeded once (${rounds} rounds)`, async () => {
  for (let round = 1; round <= rounds; round++) {
    const database = await freshDatabase<PlacementsDatabase>()
    try {
      const pools = [database.db, ...await Promise.all([1, 2, 3, 4, 5].map(() => database.connectAnother()))]
      const started = await Promise.allSettled(pools.map(async (db) => {
        await migrate(db as unknown as Kysely<unknown>, placementsMigrations)
        await seedPlacements(db, new Date())
      }))
      assert.deepEqual(started.flatMap((s) => s.status === 'rejected' ? [String(s.reason)] : []), [], `round ${round}: nodes crashed`)
      // Kysely's Migrator holds an advisory lock while it migrates: one node applied them,
      // the others found them applied (running one twice would have failed on "already exists").
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(database.db)
      assert.deepEqual(applied.rows.map((row) => row.name), Object.keys(placementsMigrations).sort())
      assert.equal(await count(database.db, 'organisations'), 28)
      assert.equal(await count(database.db, 'users'), 4)
      assert.equal(await count(database.db, 'memberships'), 5)
      assert.equal(await count(database.db, 'support_users'), 1)
    } finally {
      await database.drop()
    }
  }
})
