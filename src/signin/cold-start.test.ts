import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Kysely } from 'kysely'
import { freshDatabase, redisSettings } from '../../test/support/databases.ts'
import { migrate } from '../platform/database.ts'
import { readSigninConfig } from './config.ts'
import { signinMigrations } from './database/migrations.ts'
import type { SigninDatabase } from './database/schema.ts'
import { seedDevelopment } from './seed.ts'
import { startSignin, type RunningSignin } from './server.ts'

// Several Sign-in nodes starting together on one empty database, as after a first
// deployment behind a load balancer. On the server each node has its own connection
// pool; on PGlite they can only share the one in-memory database.
const count = async (db: Kysely<SigninDatabase>, table: 'signing_keys' | 'instance_secrets' | 'clients' | 'accounts') =>
  Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

const rounds = 3

test(`four nodes starting at once on an empty database make one signing key and publish the same JWKS (${rounds} rounds)`, async () => {
  for (let round = 1; round <= rounds; round++) {
    const database = await freshDatabase<SigninDatabase>()
    const pools = [database.db, ...await Promise.all([1, 2, 3].map(() => database.connectAnother()))]
    const config = { ...readSigninConfig({ NODE_ENV: 'test', SIGNIN_PORT: '0' }), ...redisSettings() }
    const started = await Promise.allSettled(pools.map((db) => startSignin(config, { db })))
    const nodes = started.flatMap((s) => s.status === 'fulfilled' ? [s.value] : [])
    try {
      const crashed = started.flatMap((s) => s.status === 'rejected' ? [String(s.reason)] : [])
      assert.deepEqual(crashed, [], `round ${round}: nodes crashed at start`)
      assert.equal(await count(database.db, 'signing_keys'), 1, `round ${round}: signing keys made`)
      assert.equal(await count(database.db, 'instance_secrets'), 2, `round ${round}: one cookie key set and one code key`)
      const published = await Promise.all(nodes.map(async (node) => (await fetch(`${node.url}/jwks`)).json() as Promise<{ keys: Array<{ kid: string }> }>))
      assert.equal(published[0]!.keys.length, 1)
      for (const jwks of published) assert.deepEqual(jwks, published[0], `round ${round}: every node publishes the same JWKS`)
      for (const node of nodes) assert.deepEqual(node.context.codeKey, nodes[0]!.context.codeKey, 'one code key')
    } finally {
      await Promise.all(nodes.map((node: RunningSignin) => node.close()))
      await database.drop()
    }
  }
})

test('the development seed run by several nodes at once seeds once, without a crash', async () => {
  const database = await freshDatabase<SigninDatabase>()
  try {
    await migrate(database.db as unknown as Kysely<unknown>, signinMigrations)
    const pools = [database.db, ...await Promise.all([1, 2, 3].map(() => database.connectAnother()))]
    const client = { clientId: 'manage-school-placements', secret: 'test-placements-secret-0123456789abcdef', placementsUrl: 'http://localhost:3000' }
    const seeded = await Promise.allSettled(pools.map((db) => seedDevelopment(db, new Date(), client)))
    assert.deepEqual(seeded.flatMap((s) => s.status === 'rejected' ? [String(s.reason)] : []), [])
    assert.equal(await count(database.db, 'clients'), 1)
    assert.equal(await count(database.db, 'accounts'), 4)
  } finally {
    await database.drop()
  }
})
