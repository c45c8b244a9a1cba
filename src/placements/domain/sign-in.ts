import type { Kysely } from 'kysely'
import type { PlacementsDatabase } from '../database/schema.ts'
import { recordAudit } from './audit.ts'
import { normaliseEmail, type User } from './users.ts'

/** What the identity provider told us about the person who signed in. */
export interface Identity {
  sub: string
  email: string | undefined
  givenName: string | undefined
  familyName: string | undefined
}

/**
 * Who is this? A user matches the provider's `sub` when one is stored; otherwise their
 * email, case-insensitively, and only if no other `sub` is bound to them. The first
 * match by email binds the `sub` (and takes the provider's names), so a later change of
 * address at the provider does not lock the person out. No match: no access.
 */
export async function recordSignIn(db: Kysely<PlacementsDatabase>, identity: Identity, now: Date): Promise<User | undefined> {
  return db.transaction().execute(async (trx) => {
    let user = await trx.selectFrom('users').selectAll().where('sign_in_sub', '=', identity.sub).executeTakeFirst()
    if (!user && identity.email) {
      const byEmail = await trx.selectFrom('users').selectAll()
        .where('email_normalised', '=', normaliseEmail(identity.email)).where('sign_in_sub', 'is', null).executeTakeFirst()
      if (byEmail) {
        user = await trx.updateTable('users').set({
          sign_in_sub: identity.sub,
          given_name: identity.givenName?.trim() || byEmail.given_name,
          family_name: identity.familyName?.trim() || byEmail.family_name
        }).where('id', '=', byEmail.id).returningAll().executeTakeFirstOrThrow()
      }
    }
    if (!user) {
      await recordAudit(trx, { event: 'sign-in-no-access', outcome: 'failure', email: identity.email?.slice(0, 254), details: { reason: 'no matching user' } }, now)
      return undefined
    }
    const signedIn = await trx.updateTable('users').set({ last_signed_in_at: now }).where('id', '=', user.id).returningAll().executeTakeFirstOrThrow()
    await recordAudit(trx, { event: 'sign-in', actorUserId: user.id, subjectUserId: user.id, email: user.email }, now)
    return signedIn
  })
}
