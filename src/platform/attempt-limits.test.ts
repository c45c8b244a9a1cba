import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, test } from 'node:test'
import type { Kysely } from 'kysely'
import type { Redis } from 'ioredis'
import { freshDatabase, redisSettings, type TestDatabase } from '../../test/support/databases.ts'
import { FakeClock } from './clock.ts'
import { migrate } from './database.ts'
import { connectRedis, PostgresShortLivedStore, RedisShortLivedStore, shortLivedMigration, type AttemptRule, type ShortLivedStore, type ShortLivedTable } from './short-lived-store.ts'

// The atomic attempt counter behind every limit (reserveAttempt / releaseAttempt), on the
// store this pass uses: a PostgreSQL table (PGlite, or the server), or Redis. Requests are
// fired together; a limit that holds only one at a time would fail here.
const clock = new FakeClock()
let database: TestDatabase<ShortLivedTable>
let redis: Redis | undefined
let store: ShortLivedStore

before(async () => {
  database = await freshDatabase<ShortLivedTable>()
  await migrate(database.db as Kysely<unknown>, { '0001-short-lived': shortLivedMigration })
  const settings = redisSettings()
  redis = settings.redisUrl ? connectRedis(settings.redisUrl) : undefined
  store = redis ? new RedisShortLivedStore(redis, settings.redisPrefix) : new PostgresShortLivedStore(database.db, clock)
})
after(async () => {
  redis?.disconnect()
  await database.drop()
})

const key = () => `attempts-test:${randomBytes(6).toString('hex')}`
const lockout: AttemptRule = { limit: 5, windowSeconds: 24 * 3600, lockSeconds: 15 * 60 }
const hourly: AttemptRule = { limit: 100, windowSeconds: 3600 }

test('50 reservations at once against a limit of 5: exactly 5 are allowed', async () => {
  const k = key()
  const results = await Promise.all(Array.from({ length: 50 }, () => store.reserveAttempt(k, lockout, clock.now())))
  assert.equal(results.filter((r) => r.allowed).length, 5)
  assert.deepEqual(results.map((r) => r.count).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1), 'every reservation got its own count')
})

test('take: 50 takes of one key at once, exactly one gets the value, and it is gone after (passkey challenges, ADR 12)', async () => {
  const k = key()
  await store.set(k, { purpose: 'once' }, 300)
  const results = await Promise.all(Array.from({ length: 50 }, () => store.take<{ purpose: string }>(k)))
  assert.deepEqual(results.filter((r) => r !== undefined), [{ purpose: 'once' }])
  assert.equal(await store.get(k), undefined)
  assert.equal(await store.take(k), undefined)
})

test('200 reservations at once against a limit of 100 an hour: exactly 100 are allowed', async () => {
  const k = key()
  const results = await Promise.all(Array.from({ length: 200 }, () => store.reserveAttempt(k, hourly, clock.now())))
  assert.equal(results.filter((r) => r.allowed).length, 100)
})

test('the attempt that reaches the limit locks for lockSeconds; afterwards counting starts again', async () => {
  const k = key()
  for (let i = 1; i < 5; i++) assert.equal((await store.reserveAttempt(k, lockout, clock.now())).lockedUntil, undefined)
  const fifth = await store.reserveAttempt(k, lockout, clock.now())
  assert.equal(fifth.allowed, true)
  assert.equal(fifth.lockedUntil?.getTime(), clock.now().getTime() + 15 * 60_000)
  clock.advanceSeconds(15 * 60 - 1)
  assert.equal((await store.reserveAttempt(k, lockout, clock.now())).allowed, false, 'locked a second before the end')
  clock.advanceSeconds(1)
  const again = await store.reserveAttempt(k, lockout, clock.now())
  assert.deepEqual([again.allowed, again.count, again.lockedUntil], [true, 1, undefined])
})

test('without lockSeconds the lock lasts until the window ends, then the window starts again', async () => {
  const k = key()
  const rule: AttemptRule = { limit: 3, windowSeconds: 3600 }
  const started = clock.now().getTime()
  for (let i = 0; i < 3; i++) await store.reserveAttempt(k, rule, clock.now())
  clock.advanceSeconds(1800)
  const refused = await store.reserveAttempt(k, rule, clock.now())
  assert.equal(refused.allowed, false)
  assert.equal(refused.lockedUntil?.getTime(), started + 3600_000)
  clock.advanceSeconds(1800)
  assert.equal((await store.reserveAttempt(k, rule, clock.now())).allowed, true)
})

test('a released reservation is given back, and unlocks a key it had locked', async () => {
  const k = key()
  for (let i = 0; i < 4; i++) await store.reserveAttempt(k, lockout, clock.now())
  const fifth = await store.reserveAttempt(k, lockout, clock.now())
  assert.ok(fifth.lockedUntil, 'the fifth locks')
  await store.releaseAttempt(k, lockout, clock.now())
  const again = await store.reserveAttempt(k, lockout, clock.now())
  assert.deepEqual([again.allowed, again.count], [true, 5], 'the released place is taken again')
})

test('releasing a key that holds nothing does nothing', async () => {
  const k = key()
  await store.releaseAttempt(k, lockout, clock.now())
  assert.equal((await store.reserveAttempt(k, lockout, clock.now())).count, 1)
})

test('keys are independent', async () => {
  const [a, b] = [key(), key()]
  await Promise.all(Array.from({ length: 10 }, () => store.reserveAttempt(a, lockout, clock.now())))
  assert.equal((await store.reserveAttempt(b, lockout, clock.now())).count, 1)
})
