import { sql, type Kysely, type Transaction } from 'kysely'
import type { CodePurpose, SigninDatabase } from '../database/schema.ts'
import { normaliseEmail } from './accounts.ts'
import { codesMatch, generateCode, hashCode } from './six-digit-codes.ts'

/**
 * Emailed one-time codes (docs/security.md, "verification codes"): stored as keyed hashes,
 * single use, a new one replaces the old, short expiry, 5 wrong entries kill a code,
 * at most 5 codes per address per hour (a code that was used no longer counts: the limit
 * stops floods of codes and guesses, not someone signing in several times an hour).
 */
export const codeRules = {
  lifetimeMinutes: { 'confirm-email': 60, 'reset-password': 15, 'sign-in': 15, 'change-email': 15 } satisfies Record<CodePurpose, number>,
  maxWrongEntries: 5,
  maxCodesPerHour: 5
}

export type IssueResult = { code: string, expiresAt: Date } | { limited: true, retryAfterMinutes: number }

/**
 * Counts the address's recent codes and issues the next one as one step: the caller's
 * transaction first takes a lock on the address (held until it commits), so requests
 * arriving together are counted one after another, on any number of nodes.
 */
export async function issueCode(trx: Transaction<SigninDatabase>, purpose: CodePurpose, email: string, key: Buffer, now: Date): Promise<IssueResult> {
  const address = normaliseEmail(email)
  await sql`select pg_advisory_xact_lock(hashtextextended(${'verification-codes:' + address}, 0))`.execute(trx)
  const hourAgo = new Date(now.getTime() - 3600_000)
  const recent = await trx.selectFrom('verification_codes').select('created_at')
    .where('email_normalised', '=', address).where('created_at', '>', hourAgo).where('used_at', 'is', null)
    .orderBy('created_at', 'asc').execute()
  if (recent.length >= codeRules.maxCodesPerHour) {
    const oldest = recent[0]!.created_at.getTime()
    return { limited: true, retryAfterMinutes: Math.max(1, Math.ceil((oldest + 3600_000 - now.getTime()) / 60_000)) }
  }
  await trx.updateTable('verification_codes').set({ closed_at: now })
    .where('email_normalised', '=', address).where('purpose', '=', purpose).where('closed_at', 'is', null).execute()
  const code = generateCode()
  const expiresAt = new Date(now.getTime() + codeRules.lifetimeMinutes[purpose] * 60_000)
  await trx.insertInto('verification_codes').values({
    purpose, email_normalised: address, code_hash: hashCode(code, key), created_at: now, expires_at: expiresAt, closed_at: null, used_at: null
  }).execute()
  return { code, expiresAt }
}

export type CheckResult = 'correct' | 'incorrect' | 'expired' | 'too-many-attempts'

/** Checks a typed code against the address's latest; in the caller's transaction when given one, so its audit event commits with it. */
export async function checkCode(db: Kysely<SigninDatabase> | Transaction<SigninDatabase>, purpose: CodePurpose, email: string, code: string, key: Buffer, now: Date): Promise<CheckResult> {
  const address = normaliseEmail(email)
  const inTransaction = (check: (trx: Transaction<SigninDatabase>) => Promise<CheckResult>) =>
    db.isTransaction ? check(db as Transaction<SigninDatabase>) : db.transaction().execute(check)
  return inTransaction(async (trx) => {
    const latest = await trx.selectFrom('verification_codes').selectAll()
      .where('email_normalised', '=', address).where('purpose', '=', purpose)
      .orderBy('created_at', 'desc').limit(1).forUpdate().executeTakeFirst()
    // No code at all (e.g. an address with no account): indistinguishable from a wrong one.
    if (!latest) return 'incorrect'
    if (latest.wrong_attempts >= codeRules.maxWrongEntries) return 'too-many-attempts'
    if (latest.closed_at) return 'expired'
    if (latest.expires_at <= now) return 'expired'
    if (codesMatch(latest.code_hash, hashCode(code, key))) {
      await trx.updateTable('verification_codes').set({ closed_at: now, used_at: now }).where('id', '=', latest.id).execute()
      return 'correct'
    }
    const wrong = latest.wrong_attempts + 1
    await trx.updateTable('verification_codes')
      .set({ wrong_attempts: wrong, ...(wrong >= codeRules.maxWrongEntries ? { closed_at: now } : {}) })
      .where('id', '=', latest.id).execute()
    return wrong >= codeRules.maxWrongEntries ? 'too-many-attempts' : 'incorrect'
  })
}

/** Whole minutes from now until a code expires, as its email says. */
export function minutesUntil(date: Date, now: Date): number {
  return Math.round((date.getTime() - now.getTime()) / 60_000)
}
