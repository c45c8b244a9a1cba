import type { Request, Response } from 'express'
import { field } from '../../../platform/validation.ts'
import { renderFormErrors } from '../../../platform/views.ts'
import { appRules, checkAppCode } from '../../accounts/authenticator-app.ts'
import type { CodeOwner, CodeSent } from '../../accounts/code-actions.ts'
import type { SecondFactor } from '../../accounts/factors.ts'
import { normaliseRecoveryCode, recoveryRules, useRecoveryCode } from '../../accounts/recovery-codes.ts'
import { recordAudit } from '../../audit.ts'
import type { SigninContext } from '../../context.ts'
import { codeInputProblem, sendCodeOrShowLimit } from '../steps/code-step.ts'

/**
 * Checking a second factor (ADR 10), the same wherever it is asked for: at sign-in (the
 * journey under /interaction/<uid>/) and when "Your account" asks a person to sign in
 * again before a change. One set of rules, lockouts and audit events for both: the app's
 * lockout is the app's, the recovery codes' the account's, an emailed code's the address's
 * (an emailed code is sent and checked by accounts/code-actions.ts and the shared code step).
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

/**
 * Who is proving a factor, for the checks and the audit trail: the service (none when
 * signing in again in "Your account"), and `purpose` when signing in again.
 */
export type Prover = CodeOwner

export type Proof = { ok: true, recoveryRemaining?: number } | { ok: false, error: string, status: 400 | 429 }

function auditOf(who: Prover) {
  return { accountId: who.accountId, email: who.email, ip: who.ip, clientId: who.clientId }
}

function withPurpose(who: Prover, details: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  return who.purpose ? { ...details, purpose: who.purpose } : details
}

/**
 * "Choose how to sign in" (choose-factor.njk), at sign-in and signing in again: the factor
 * chosen from `factors`, an emailed code sent first when that is the choice; otherwise
 * undefined, and the page again with what is wrong or the code limit.
 */
export async function chooseFactor(req: Request, res: Response, view: string, factors: SecondFactor[], page: Record<string, unknown>, sendCode: () => Promise<CodeSent>): Promise<SecondFactor | undefined> {
  const chosen = field(req, 'factor') as SecondFactor
  if (factors.includes(chosen)) return chosen === 'email-code' && !(await sendCodeOrShowLimit(res, sendCode, view, 'factor', page)) ? undefined : chosen
  renderFormErrors(res, view, { factor: appMessages.choose }, page)
  return undefined
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
