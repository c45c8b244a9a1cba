import type { Account } from '../accounts/accounts.ts'
import { verifyPassword } from '../accounts/passwords.ts'
import { recordAudit, type AuditEventName } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { messages as signInMessages } from '../journeys/sign-in/routes.ts'

export type PasswordCheck = { ok: true } | { ok: false, error: string, status: 400 | 429 }

/**
 * Checks the account's password in "Your account" (changing the password, signing in
 * again before a change) under the sign-in throttle's own lockout, reserved before the
 * check: no form here is a way round it, and each check is one guess counted like a
 * wrong password at sign-in. `events` names the audit events for a lockout and a failure.
 */
export async function checkAccountPassword(
  context: SigninContext, account: Account, ip: string | undefined, typed: string,
  events: { locked: AuditEventName, failed: AuditEventName }, wrongMessage: string
): Promise<PasswordCheck> {
  const now = context.clock.now()
  const from = ip ?? 'unknown'
  const audit = { accountId: account.id, email: account.email, ip: from }
  const throttle = await context.throttle.reserve(account.email, from, now)
  if (!throttle.allowed) {
    await recordAudit(context.db, { ...audit, event: events.locked, outcome: 'failure', details: { reason: throttle.reason } }, now)
    return { ok: false, error: throttle.reason === 'ip' ? signInMessages.tooManyFromHere : signInMessages.lockedOut(throttle.retryAfterMinutes), status: 429 }
  }
  let correct: boolean
  try {
    correct = await verifyPassword(account.password_hash, typed)
  } catch (error) {
    // Not checked (too busy to hash): this attempt must not count.
    await context.throttle.release(account.email, from, now)
    throw error
  }
  if (!correct) {
    await recordAudit(context.db, { ...audit, event: events.failed, outcome: 'failure', details: { lockedNow: throttle.locksIfWrong } }, now)
    if (throttle.locksIfWrong) return { ok: false, error: signInMessages.lockedOut(throttle.retryAfterMinutesIfWrong), status: 429 }
    return { ok: false, error: wrongMessage, status: 400 }
  }
  await context.throttle.succeeded(account.email, from, now)
  return { ok: true }
}
