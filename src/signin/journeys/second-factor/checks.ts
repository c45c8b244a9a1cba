import { queueEmail } from '../../../platform/mail/outbox.ts'
import { checkCode, issueCode } from '../../accounts/emailed-codes.ts'
import { appRules, checkAppCode } from '../../accounts/authenticator-app.ts'
import { normaliseRecoveryCode, recoveryRules, useRecoveryCode } from '../../accounts/recovery-codes.ts'
import { recordAudit } from '../../audit.ts'
import type { SigninContext } from '../../context.ts'
import type { Email } from '../../../platform/mail/outbox.ts'
import { checkResultProblem, codeInputProblem, minutesUntil } from '../shared/code-step.ts'

/**
 * Checking a second factor (ADR 10), the same wherever it is asked for: at sign-in (the
 * journey under /interaction/<uid>/) and when "Your account" asks a person to sign in
 * again before a change. One set of rules, lockouts and audit events for both: the app's
 * lockout is the app's, the recovery codes' the account's, an emailed code's the address's.
 */
export const recoveryMessages = {
  missing: 'Enter a recovery code',
  format: 'Enter a recovery code using the 10 letters and numbers, for example abcde-23456',
  incorrect: 'The recovery code is not correct, or it has been used. Check it and try again',
  locked: (minutes: number) => `You've entered the wrong recovery code too many times. Wait ${minutes} ${minutes === 1 ? 'minute' : 'minutes'} and try again, or use another way to sign in`
}

export const appMessages = {
  incorrect: 'The code is not correct. Enter the code your authenticator app shows now',
  used: 'That code has already been used. Wait for your authenticator app to show a new code, then enter it',
  locked: (minutes: number) => `You've entered the wrong code too many times. Wait ${minutes} ${minutes === 1 ? 'minute' : 'minutes'} and try again, or use another way to sign in`,
  choose: 'Select how you want to sign in'
}

/** Who is proving a factor, for the checks and the audit trail. */
export interface Prover {
  accountId: string
  email: string
  ip: string | undefined
  /** The service being signed in to; none when signing in again in "Your account". */
  clientId?: string | undefined
  /** Set when signing in again before a change in "Your account". */
  purpose?: 're-authenticate' | undefined
}

export type Proof = { ok: true, recoveryRemaining?: number } | { ok: false, error: string, status: 400 | 429 }

function auditOf(who: Prover) {
  return { accountId: who.accountId, email: who.email, ip: who.ip, clientId: who.clientId }
}

function withPurpose(who: Prover, details: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  return who.purpose ? { ...details, purpose: who.purpose } : details
}

/** Emails a sign-in code to the account's address (counted like every other code), in the email `write` makes. */
export async function sendSignInCode(context: SigninContext, who: Prover, write: (code: string, expiresInMinutes: number) => Email): Promise<{ limitedMinutes?: number }> {
  const now = context.clock.now()
  return context.db.transaction().execute(async (trx) => {
    const issued = await issueCode(trx, 'sign-in', who.email, context.codeKey, now)
    if ('limited' in issued) {
      await recordAudit(trx, { ...auditOf(who), event: 'code-limit-reached', outcome: 'failure', details: { purpose: 'sign-in', ...(who.purpose ? { for: who.purpose } : {}) } }, now)
      return { limitedMinutes: issued.retryAfterMinutes }
    }
    await queueEmail(trx, write(issued.code, minutesUntil(issued.expiresAt, now)), now)
    await recordAudit(trx, { ...auditOf(who), event: 'code-sent', outcome: 'success', details: { purpose: 'sign-in', ...(who.purpose ? { for: who.purpose } : {}) } }, now)
    return {}
  })
}

export async function proveEmailCode(context: SigninContext, who: Prover, typed: string): Promise<Proof> {
  const input = codeInputProblem(typed)
  if (input.problem) return { ok: false, error: input.problem, status: 400 }
  const now = context.clock.now()
  const result = await checkCode(context.db, 'sign-in', who.email, input.code!, context.codeKey, now)
  const problem = checkResultProblem(result)
  await recordAudit(context.db, {
    ...auditOf(who), event: 'second-factor', outcome: problem ? 'failure' : 'success',
    details: withPurpose(who, { factor: 'email-code', ...(problem ? { result } : {}) })
  }, now)
  return problem ? { ok: false, error: problem, status: 400 } : { ok: true }
}

export async function proveAppCode(context: SigninContext, who: Prover, typed: string): Promise<Proof> {
  const input = codeInputProblem(typed)
  if (input.problem) return { ok: false, error: input.problem, status: 400 }
  const now = context.clock.now()
  const checked = await checkAppCode(context.db, context.store, context.codeKey, { accountId: who.accountId }, input.code!, now)
  if (checked.result === 'locked') {
    await recordAudit(context.db, { ...auditOf(who), event: 'second-factor-locked', outcome: 'failure', details: withPurpose(who, { factor: 'authenticator-app' }) }, now)
    return { ok: false, error: appMessages.locked(checked.retryAfterMinutes), status: 429 }
  }
  await recordAudit(context.db, { ...auditOf(who), event: 'second-factor', outcome: checked.result === 'correct' ? 'success' : 'failure', details: withPurpose(who, { factor: 'authenticator-app', result: checked.result }) }, now)
  if (checked.result === 'correct') return { ok: true }
  if (checked.locksNow) return { ok: false, error: appMessages.locked(appRules.lockoutMinutes), status: 429 }
  return { ok: false, error: appMessages[checked.result], status: 400 }
}

export async function proveRecoveryCode(context: SigninContext, who: Prover, typed: string): Promise<Proof> {
  if (typed.trim() === '') return { ok: false, error: recoveryMessages.missing, status: 400 }
  const code = normaliseRecoveryCode(typed)
  if (!code) return { ok: false, error: recoveryMessages.format, status: 400 }
  const now = context.clock.now()
  const checked = await useRecoveryCode(context.db, context.store, context.codeKey, who.accountId, code, now)
  if (checked.result === 'locked') {
    await recordAudit(context.db, { ...auditOf(who), event: 'second-factor-locked', outcome: 'failure', details: withPurpose(who, { factor: 'recovery-code' }) }, now)
    return { ok: false, error: recoveryMessages.locked(checked.retryAfterMinutes), status: 429 }
  }
  await recordAudit(context.db, { ...auditOf(who), event: 'second-factor', outcome: checked.result === 'correct' ? 'success' : 'failure', details: withPurpose(who, { factor: 'recovery-code' }) }, now)
  if (checked.result === 'correct') return { ok: true, recoveryRemaining: checked.remaining }
  if (checked.locksNow) return { ok: false, error: recoveryMessages.locked(recoveryRules.lockoutMinutes), status: 429 }
  return { ok: false, error: recoveryMessages.incorrect, status: 400 }
}
