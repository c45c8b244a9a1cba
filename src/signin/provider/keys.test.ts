import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { migrate } from '../../platform/database.ts'
import { signinMigrations } from '../database/migrations.ts'
import type { SigninDatabase } from '../database/schema.ts'
import { instanceSecret, publishBeforeSigningSeconds, retireOldKeys, rotateSigningKey, signingKeys } from './keys.ts'

let database: TestDatabase<SigninDatabase>
let db: Kysely<SigninDatabase>
before(async () => {
  database = await freshDatabase<SigninDatabase>()
  db = database.db
  await migrate(db as unknown as Kysely<unknown>, signinMigrations)
})
after(() => database.drop())

test('signing keys are generated once, then reused; a rotated key is published at once and signs once published long enough', async () => {
  const first = await signingKeys(db, new Date('2026-01-01T00:00:00Z'))
  assert.equal(first.length, 1)
  assert.deepEqual(await signingKeys(db, new Date('2026-01-02T00:00:00Z')), first, 'same key after a restart')

  const rotatedAt = new Date('2026-02-01T00:00:00Z')
  const kid = await rotateSigningKey(db, rotatedAt)
  const published = await signingKeys(db, new Date(rotatedAt.getTime() + 1000))
  assert.deepEqual(published.map((key) => key.kid), [first[0]!.kid, kid], 'published, but the provider still signs with the first key')
  const justBefore = await signingKeys(db, new Date(rotatedAt.getTime() + (publishBeforeSigningSeconds - 1) * 1000))
  assert.equal(justBefore[0]!.kid, first[0]!.kid)
  const signing = await signingKeys(db, new Date(rotatedAt.getTime() + publishBeforeSigningSeconds * 1000))
  assert.deepEqual(signing.map((key) => key.kid), [kid, first[0]!.kid], 'the new key signs; the old one still verifies tokens it signed')

  await rotateSigningKey(db, new Date('2026-03-01T00:00:00Z'))
  assert.equal(await retireOldKeys(db, new Date('2026-03-02T00:00:00Z'), 2), 1)
  const kept = await signingKeys(db, new Date('2026-03-02T00:00:01Z'))
  assert.equal(kept.length, 2)
  assert.ok(!kept.some((key) => key.kid === first[0]!.kid), 'the oldest key is no longer published')
})

test('instance secrets are generated once and the environment overrides them', async () => {
  const generated = await instanceSecret(db, 'code-key', new Date())
  assert.ok(generated.length >= 40)
  assert.equal(await instanceSecret(db, 'code-key', new Date()), generated)
  assert.equal(await instanceSecret(db, 'code-key', new Date(), 'from-environment'), 'from-environment')
})

test('forty simultaneous first reads of an instance secret, from two pools, agree on one value', async () => {
  const pools = [db, await database.connectAnother()]
  const values = await Promise.all(Array.from({ length: 40 }, (_, i) => instanceSecret(pools[i % 2]!, 'simultaneous-secret', new Date())))
  assert.equal(new Set(values).size, 1)
})
