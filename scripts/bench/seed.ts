import type { Kysely } from 'kysely'
import type { PlacementsDatabase } from '../../src/placements/database/schema.ts'
import { encryptSecret, newAppSecret } from '../../src/signin/accounts/authenticator-app.ts'
import type { SigninDatabase } from '../../src/signin/database/schema.ts'

/**
 * Bench data, written straight into the services' databases before they start: accounts
 * that sign in with a password and an authenticator app (one precomputed hash: this is
 * data, not a hashing test), in batches.
 */
export interface BenchAccount {
  email: string
  password: string
  appSecret: string
}

export async function addAppAccounts(db: Kysely<SigninDatabase>, options: { tag: string, count: number, password: string, passwordHash: string, codeKey: Buffer }): Promise<BenchAccount[]> {
  const accounts: BenchAccount[] = []
  const now = new Date()
  for (let from = 0; from < options.count; from += 500) {
    const batch = Array.from({ length: Math.min(500, options.count - from) }, (_, i) => ({
      email: `bench.${options.tag}.${from + i}@example.com`, password: options.password, appSecret: newAppSecret()
    }))
    const rows = await db.insertInto('accounts').values(batch.map((account) => ({
      email: account.email, email_normalised: account.email, given_name: 'Bench', family_name: `Person ${account.email}`,
      password_hash: options.passwordHash, created_at: now, password_changed_at: now, last_signed_in_at: null
    }))).returning(['id', 'email']).execute()
    const secretOf = new Map(batch.map((account) => [account.email, account.appSecret]))
    await db.insertInto('account_factors').values(rows.map((row) => ({
      account_id: row.id, kind: 'authenticator-app' as const, label: 'Authenticator app', secret_encrypted: encryptSecret(secretOf.get(row.email)!, options.codeKey),
      last_used_step: null, credential_id: null, public_key: null, sign_count: null, created_at: now, confirmed_at: now, last_used_at: null
    }))).execute()
    accounts.push(...batch)
  }
  return accounts
}

/** A Placements user in one school, for the signed-in page: the user's id. */
export async function addPlacementsMember(db: Kysely<PlacementsDatabase>, email: string): Promise<string> {
  const now = new Date()
  const organisation = await db.insertInto('organisations').values({ kind: 'school', name: 'Bench Primary School', urn: '199999', ukprn: null, provider_code: null, created_at: now })
    .returning('id').executeTakeFirstOrThrow()
  const user = await db.insertInto('users').values({ email, email_normalised: email, given_name: 'Bench', family_name: 'Person', sign_in_sub: null, last_signed_in_at: null, created_at: now })
    .returning('id').executeTakeFirstOrThrow()
  await db.insertInto('memberships').values({ user_id: user.id, organisation_id: organisation.id, created_at: now }).execute()
  return user.id
}
