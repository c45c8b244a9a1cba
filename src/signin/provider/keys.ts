import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import { lockUntilCommit } from '../../platform/database.ts'
import type { SigninDatabase } from '../database/schema.ts'

type Db = Kysely<SigninDatabase> | Transaction<SigninDatabase>

/**
 * Signing keys are generated once and kept in the database, so every node and every
 * restart signs with the same key. Rotation adds a new key; every node publishes all
 * active keys in its JWKS (re-reading them every minute, see live-provider.ts), and old
 * keys stay published until they are retired, so tokens already issued still verify.
 *
 * oidc-provider signs with the first key. A new key goes first only once it has been
 * published for `publishBeforeSigningSeconds`: by then every node publishes it, so a
 * service that sees a token signed with it can fetch it from whichever node it reaches.
 */
export const publishBeforeSigningSeconds = 5 * 60

export async function signingKeys(db: Kysely<SigninDatabase>, now: Date): Promise<Record<string, unknown>[]> {
  const keys = await activeKeys(db, now)
  if (keys.length > 0) return keys
  // First start: every node may be here at once. One makes the key; the others wait for
  // it to commit, then find it.
  return db.transaction().execute(async (trx) => {
    await lockUntilCommit(trx, 'signin-first-signing-key')
    if ((await activeKeys(trx, now)).length === 0) await insertKey(trx, now)
    return activeKeys(trx, now)
  })
}

/**
 * In signing order: first the newest key published long enough (or, when none is, the
 * oldest: the first key ever, or the longest published), then the others newest first.
 */
async function activeKeys(db: Db, now: Date): Promise<Record<string, unknown>[]> {
  const rows = await db.selectFrom('signing_keys').select(['private_jwk', 'created_at']).where('retired_at', 'is', null)
    .orderBy('created_at', 'desc').orderBy('kid', 'desc').execute()
  const publishedLongEnough = (row: { created_at: Date }) => now.getTime() - row.created_at.getTime() >= publishBeforeSigningSeconds * 1000
  const first = rows.find(publishedLongEnough) ?? rows.at(-1)
  return [...rows.filter((row) => row === first), ...rows.filter((row) => row !== first)].map((r) => r.private_jwk)
}

export async function rotateSigningKey(db: Kysely<SigninDatabase>, now: Date): Promise<string> {
  return insertKey(db, now)
}

async function insertKey(db: Db, now: Date): Promise<string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>
  const kid = createHash('sha256').update(String(jwk.n)).digest('base64url').slice(0, 16)
  await db.insertInto('signing_keys').values({
    kid, private_jwk: JSON.stringify({ ...jwk, kid, alg: 'RS256', use: 'sig' }) as unknown as Record<string, unknown>, created_at: now, retired_at: null
  }).execute()
  return kid
}

/** Stops publishing keys older than the newest `keep` (after tokens they signed have expired). */
export async function retireOldKeys(db: Kysely<SigninDatabase>, now: Date, keep = 2): Promise<number> {
  const rows = await db.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null)
    .orderBy('created_at', 'desc').orderBy('kid', 'desc').execute()
  const retire = rows.slice(keep).map((r) => r.kid)
  if (retire.length === 0) return 0
  await db.updateTable('signing_keys').set({ retired_at: now }).where('kid', 'in', retire).execute()
  return retire.length
}

/**
 * Secrets this instance makes for itself on first start (cookie signing keys, the key
 * that hashes verification codes) unless the environment provides them. Insert if
 * absent, then read: nodes starting at once all end up with the first one written.
 */
export async function instanceSecret(db: Kysely<SigninDatabase>, name: string, now: Date, fromEnvironment?: string): Promise<string> {
  if (fromEnvironment) return fromEnvironment
  const existing = await db.selectFrom('instance_secrets').select('value').where('name', '=', name).executeTakeFirst()
  if (existing) return existing.value
  await db.insertInto('instance_secrets').values({ name, value: randomBytes(32).toString('base64url'), created_at: now })
    .onConflict((c) => c.column('name').doNothing()).execute()
  const row = await db.selectFrom('instance_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow()
  return row.value
}
