import { sql, type Kysely } from 'kysely'
import type { PlacementsDatabase } from '../database/schema.ts'
import { recordAudit } from './audit.ts'
import { normaliseEmail, type User } from './users.ts'

/** What the identity provider told us about the person who signed in. */
export interface Identity {
  sub: string
  email: string | undefined
  /** The provider's `email_verified`: only a verified address may match an invitation. */
  emailVerified: boolean
  givenName: string | undefined
  familyName: string | undefined
}

/**
 * Who is this? A user matches the provider's `sub` when one is stored; otherwise their
 * email, case-insensitively, if the provider verified it, and only if no other `sub` is
 * bound to them. The first match by email binds the `sub` (and takes the provider's
 * names), so a later change of address at the provider does not lock the person out.
 * No match: no access.
 *
 * Matching and binding are one statement: two first sign-ins at once (two tabs, a
 * double click, two nodes) cannot see the user unbound in one step and bound by the
 * other in the next. The one that waits re-checks the row once the first has bound it,
 * and then matches it by `sub`.
 */
export async function recordSignIn(db: Kysely<PlacementsDatabase>, identity: Identity, now: Date): Promise<User | undefined> {
  const email = identity.emailVerified && identity.email ? normaliseEmail(identity.email) : null
  const givenName = identity.givenName?.trim() || null
  const familyName = identity.familyName?.trim() || null
  return db.transaction().execute(async (trx) => {
    const { rows: [user] } = await sql<User>`
      update users set
        given_name = case when sign_in_sub is null then coalesce(${givenName}, given_name) else given_name end,
        family_name = case when sign_in_sub is null then coalesce(${familyName}, family_name) else family_name end,
        sign_in_sub = ${identity.sub},
        last_signed_in_at = ${now}
      where sign_in_sub = ${identity.sub}
        or (sign_in_sub is null and email_normalised = ${email}
            and not exists (select 1 from users bound where bound.sign_in_sub = ${identity.sub}))
      returning *`.execute(trx)
    if (!user) {
      await recordAudit(trx, { event: 'sign-in-no-access', outcome: 'failure', email: identity.email?.slice(0, 254), details: { reason: 'no matching user' } }, now)
      return undefined
    }
    await recordAudit(trx, { event: 'sign-in', actorUserId: user.id, subjectUserId: user.id, email: user.email }, now)
    return user
  }).then((user) => user && followEmailChange(db, user, identity, now))
}

/**
 * The address Placements shows follows the provider's (ADR 13): a person bound by `sub`
 * who changed their address at the provider shows the new, verified one from their next
 * sign-in. Never the address of another user here (an invitation waiting for it, say):
 * then the old one stays. Access never depends on it; matching is by `sub`.
 */
async function followEmailChange(db: Kysely<PlacementsDatabase>, user: User, identity: Identity, now: Date): Promise<User> {
  if (!identity.emailVerified || !identity.email || normaliseEmail(identity.email) === user.email_normalised) return user
  const email = identity.email.trim().slice(0, 254)
  try {
    const { rows: [updated] } = await sql<User>`
      update users set email = ${email}, email_normalised = ${normaliseEmail(email)}
      where id = ${user.id} and sign_in_sub = ${identity.sub}
        and not exists (select 1 from users other where other.email_normalised = ${normaliseEmail(email)})
      returning *`.execute(db)
    if (!updated) return user
    await recordAudit(db, { event: 'email-updated-from-provider', actorUserId: user.id, subjectUserId: user.id, email, details: { from: user.email } }, now)
    return updated
  } catch (error) {
    // Taken by another user at the same moment (unique index): the old address stays.
    if ((error as { code?: unknown }).code === '23505') return user
    throw error
  }
}
