import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Kysely } from 'kysely'
import { freshDatabase, redisSettings, type TestDatabase } from '../../../test/support/databases.ts'
import { systemClock } from '../../platform/clock.ts'
import { migrate } from '../../platform/database.ts'
import { connectRedis } from '../../platform/short-lived-store.ts'
import { signinMigrations } from '../database/migrations.ts'
import type { SigninDatabase } from '../database/schema.ts'
import { adapterFactory, type AdapterFactory } from './adapters.ts'

// The store the suite runs on: Redis when REDIS_URL is set, PostgreSQL otherwise.
const { redisUrl, redisPrefix } = redisSettings()
const redis = redisUrl ? connectRedis(redisUrl) : undefined
let database: TestDatabase<SigninDatabase>
let adapters: AdapterFactory
before(async () => {
  database = await freshDatabase<SigninDatabase>()
  await migrate(database.db as unknown as Kysely<unknown>, signinMigrations)
  adapters = adapterFactory(database.db, systemClock, redis, redisPrefix)
})
after(async () => {
  redis?.disconnect()
  await database.drop()
})

test('a consumed authorization code keeps its payload and its expiry, and says when it was consumed', async () => {
  const codes = adapters('AuthorizationCode')
  const payload = { jti: 'code-1', kind: 'AuthorizationCode', grantId: 'grant-1', scope: 'openid email', amr: [], claims: {} }
  await codes.upsert('code-1', payload, 60)
  const before = Math.floor(Date.now() / 1000)
  await codes.consume('code-1')
  const consumed = await codes.find('code-1')
  assert.ok(consumed)
  const { consumed: at, ...rest } = consumed
  assert.deepEqual(rest, payload, 'every field as it was, empty lists and objects included')
  assert.ok(typeof at === 'number' && at >= before && at <= Math.floor(Date.now() / 1000) + 1)
  if (redis) {
    const ttl = await redis.ttl(`${redisPrefix}oidc:AuthorizationCode:code-1`)
    assert.ok(ttl > 0 && ttl <= 60, `still expires (TTL ${ttl})`)
  }
})

test('consuming a code that is not there (expired, revoked) is refused, and stores nothing', async () => {
  const codes = adapters('AuthorizationCode')
  await assert.rejects(codes.consume('no-such-code'), (error: { error?: string }) => error.error === 'invalid_grant')
  assert.equal(await codes.find('no-such-code'), undefined)
  if (redis) assert.equal(await redis.exists(`${redisPrefix}oidc:AuthorizationCode:no-such-code`), 0)
})

// Both adapters whatever the pass: the database's alone (on the PostgreSQL pass, a real
// server with a pool of connections), and Redis's when the suite has it.
const stores = () => [['database', adapterFactory(database.db, systemClock)] as const, ...(redis ? [['Redis', adapters] as const] : [])]

test('50 uses of one authorization code at once: one succeeds, the rest are refused as replays, and the grant\'s tokens are revoked', async () => {
  for (const [store, factory] of stores()) {
    const codes = factory('AuthorizationCode')
    const tokens = factory('AccessToken')
    const grantId = `grant-race-${store}`
    await codes.upsert(`race-${store}`, { jti: `race-${store}`, kind: 'AuthorizationCode', grantId }, 60)
    await tokens.upsert(`token-${store}`, { jti: `token-${store}`, kind: 'AccessToken', grantId }, 60)
    const uses = await Promise.allSettled(Array.from({ length: 50 }, () => codes.consume(`race-${store}`)))
    assert.equal(uses.filter((use) => use.status === 'fulfilled').length, 1, store)
    for (const use of uses) {
      if (use.status === 'rejected') assert.equal((use.reason as { error?: string }).error, 'invalid_grant', `${store}: ${String(use.reason)}`)
    }
    assert.equal(await tokens.find(`token-${store}`), undefined, `${store}: the grant's access token is revoked`)
  }
})

test('a code revoked between being found and being marked used is refused, on either adapter', async () => {
  // What a request that lost the race meets when the loser before it has revoked the grant.
  for (const [store, factory] of stores()) {
    const codes = factory('AuthorizationCode')
    await codes.upsert(`revoked-${store}`, { jti: `revoked-${store}`, kind: 'AuthorizationCode', grantId: `grant-revoked-${store}` }, 60)
    await codes.revokeByGrantId(`grant-revoked-${store}`)
    await assert.rejects(codes.consume(`revoked-${store}`), (error: { error?: string }) => error.error === 'invalid_grant', store)
  }
})
