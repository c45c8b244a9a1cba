import type { Transaction } from 'kysely'
import { queueEmail, type Email } from '../../platform/mail/outbox.ts'
import { recordAudit, type AuditEvent } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import type { CodePurpose, SigninDatabase } from '../database/schema.ts'
import { accountAlreadyExists, changeEmailCode, confirmEmailCode, emailChangeToExistingAddress, resetPasswordCode, type EmailContext } from '../emails.ts'
import { findAccountByEmail, type Account } from './accounts.ts'
import type { Origin } from './actions.ts'
import { checkCode, issueCode, minutesUntil, type CheckResult } from './emailed-codes.ts'

/**
 * The emailed codes' verbs (docs/security.md, "verification codes"): sending one and checking
 * one, each a single transaction with its audit event and its email, so a code is never sent,
 * counted or used without its record. Sending is limited per address (emailed-codes.ts) and
 * answers `limitedMinutes` when the limit is reached.
 */
export type CodeSent = { limitedMinutes?: number }
type Trx = Transaction<SigninDatabase>
type Who = Omit<AuditEvent, 'event' | 'outcome' | 'details'>

/** Someone proving a factor with an emailed sign-in code: at sign-in, or signing in again in "Your account" (`purpose`). */
export interface CodeOwner extends Origin {
  accountId: string
  email: string
  purpose?: 're-authenticate' | undefined
}

/** Issues a code for the address (or answers the limit, audited) and hands it to `send`, in one transaction. */
async function issueAndSend(context: SigninContext, purpose: CodePurpose, email: string, who: Who, limitDetails: Record<string, string>,
  send: (trx: Trx, code: string, minutes: number, now: Date) => Promise<void>): Promise<CodeSent> {
  const now = context.clock.now()
  return context.db.transaction().execute(async (trx) => {
    const issued = await issueCode(trx, purpose, email, context.codeKey, now)
    if ('limited' in issued) {
      await recordAudit(trx, { ...who, event: 'code-limit-reached', outcome: 'failure', details: { purpose, ...limitDetails } }, now)
      return { limitedMinutes: issued.retryAfterMinutes }
    }
    await send(trx, issued.code, minutesUntil(issued.expiresAt, now), now)
    return {}
  })
}

/** Checks a typed code and writes what `audit` makes of the result, in one transaction. */
async function useCode(context: SigninContext, purpose: CodePurpose, email: string, code: string,
  audit: (trx: Trx, result: CheckResult, now: Date) => Promise<void>): Promise<CheckResult> {
  const now = context.clock.now()
  return context.db.transaction().execute(async (trx) => {
    const result = await checkCode(trx, purpose, email, code, context.codeKey, now)
    await audit(trx, result, now)
    return result
  })
}

/**
 * Creating an account: a code to the address, or, when it already has an account, a word to
 * its owner instead. Both write the same rows and answer the same way (no enumeration).
 */
export async function sendConfirmationCode(context: SigninContext, email: string, from: Origin, c: EmailContext): Promise<CodeSent> {
  const who = { email, ip: from.ip, clientId: from.clientId }
  return issueAndSend(context, 'confirm-email', email, who, {}, async (trx, code, minutes, now) => {
    const existing = await findAccountByEmail(trx, email)
    if (existing) {
      await queueEmail(trx, accountAlreadyExists(email, context.config.publicUrl, c), now)
      await recordAudit(trx, { ...who, accountId: existing.id, event: 'account-creation-for-existing-email', outcome: 'failure' }, now)
    } else {
      await queueEmail(trx, confirmEmailCode(email, code, minutes, c), now)
      await recordAudit(trx, { ...who, event: 'code-sent', outcome: 'success', details: { purpose: 'confirm-email' } }, now)
    }
  })
}

/** Confirms the address of an account being created. */
export async function confirmEmail(context: SigninContext, email: string, code: string, from: Origin): Promise<CheckResult> {
  return useCode(context, 'confirm-email', email, code, (trx, result, now) => recordAudit(trx, {
    event: result === 'correct' ? 'email-confirmed' : 'email-confirmation-failed', outcome: result === 'correct' ? 'success' : 'failure',
    email, ip: from.ip, clientId: from.clientId, ...(result === 'correct' ? {} : { details: { result } })
  }, now))
}

/** A forgotten password: a code is issued (and counted) either way; only an address with an account gets it. */
export async function sendResetCode(context: SigninContext, email: string, from: Origin, c: EmailContext): Promise<CodeSent> {
  const account = await findAccountByEmail(context.db, email)
  const who = { email, accountId: account?.id, ip: from.ip, clientId: from.clientId }
  return issueAndSend(context, 'reset-password', email, who, {}, async (trx, code, minutes, now) => {
    if (account) await queueEmail(trx, resetPasswordCode(account.email, code, minutes, c), now)
    await recordAudit(trx, { ...who, event: 'password-reset-requested', outcome: account ? 'success' : 'failure' }, now)
  })
}

/** The code of a forgotten password: right only for an address that has an account, whose id it then gives. */
export async function proveResetCode(context: SigninContext, email: string, code: string, from: Origin): Promise<{ result: CheckResult, accountId?: string }> {
  let accountId: string | undefined
  const result = await useCode(context, 'reset-password', email, code, async (trx, result, now) => {
    accountId = result === 'correct' ? (await findAccountByEmail(trx, email))?.id : undefined
    if (accountId) return
    await recordAudit(trx, { event: 'password-reset-code-failed', outcome: 'failure', email, ip: from.ip, clientId: from.clientId, details: { result } }, now)
  })
  // A right code for an address with no account is answered as a wrong one.
  return accountId ? { result, accountId } : { result: result === 'correct' ? 'incorrect' : result }
}

/**
 * A new address for a signed-in account: a code to it, or, when it already has an account,
 * a word to that account's owner instead: the same rows, the same answer.
 */
export async function sendEmailChangeCode(context: SigninContext, account: Account, email: string, from: Origin): Promise<CodeSent> {
  const who = { accountId: account.id, email: account.email, ip: from.ip }
  const c = { signinName: context.config.serviceName }
  return issueAndSend(context, 'change-email', email, who, {}, async (trx, code, minutes, now) => {
    const existing = await findAccountByEmail(trx, email)
    if (existing) {
      await queueEmail(trx, emailChangeToExistingAddress(email, c), now)
      await recordAudit(trx, { ...who, event: 'email-change-to-existing-email', outcome: 'failure', details: { otherAccount: existing.id } }, now)
    } else {
      await queueEmail(trx, changeEmailCode(email, code, minutes, c), now)
      await recordAudit(trx, { ...who, event: 'email-change-requested', outcome: 'success', details: { newEmail: email } }, now)
    }
  })
}

/** The code sent to a new address; a wrong one is audited (a right one is, with the change: changeEmailAddress). */
export async function proveEmailChangeCode(context: SigninContext, account: Account, email: string, code: string, from: Origin): Promise<CheckResult> {
  return useCode(context, 'change-email', email, code, async (trx, result, now) => {
    if (result !== 'correct') await recordAudit(trx, { accountId: account.id, email: account.email, ip: from.ip, event: 'email-change-code-failed', outcome: 'failure', details: { result } }, now)
  })
}

const ownerOf = (who: CodeOwner) => ({ accountId: who.accountId, email: who.email, ip: who.ip, clientId: who.clientId })

/** A sign-in code to the account's address (counted like every other code), in the email `write` makes. */
export async function sendSignInCode(context: SigninContext, who: CodeOwner, write: (code: string, expiresInMinutes: number) => Email): Promise<CodeSent> {
  const details = { purpose: 'sign-in', ...(who.purpose ? { for: who.purpose } : {}) }
  return issueAndSend(context, 'sign-in', who.email, ownerOf(who), who.purpose ? { for: who.purpose } : {}, async (trx, code, minutes, now) => {
    await queueEmail(trx, write(code, minutes), now)
    await recordAudit(trx, { ...ownerOf(who), event: 'code-sent', outcome: 'success', details }, now)
  })
}

/** An emailed code as a second factor, audited as one. */
export async function proveSignInCode(context: SigninContext, who: CodeOwner, code: string): Promise<CheckResult> {
  return useCode(context, 'sign-in', who.email, code, (trx, result, now) => recordAudit(trx, {
    ...ownerOf(who), event: 'second-factor', outcome: result === 'correct' ? 'success' : 'failure',
    details: { factor: 'email-code', ...(result === 'correct' ? {} : { result }), ...(who.purpose ? { purpose: who.purpose } : {}) }
  }, now))
}
