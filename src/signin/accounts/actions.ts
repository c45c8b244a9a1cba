import { queueEmail } from '../../platform/mail/outbox.ts'
import { recordAudit, recordAuditWithChange } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { authenticatorAppAdded, emailAddressChanged, nameChanged, passwordChanged, passwordChangedInAccount, type EmailContext } from '../emails.ts'
import { changeEmail, insertAccount, markSignedIn, setPassword, signedInUpdate, type Account } from './accounts.ts'
import { confirmApp } from './authenticator-app.ts'
import { hashPassword, needsRehash } from './passwords.ts'
import { replaceRecoveryCodes } from './recovery-codes.ts'

/**
 * The changes Sign-in makes to an account, as verbs (as Placements has: placements/domain/
 * actions.ts). Each is one transaction that also writes its audit event and its email, so a
 * change never happens without its record or its email. The emailed codes' verbs are in
 * code-actions.ts, the passkeys' in passkey-actions.ts. Handlers check the form, call a verb
 * and answer; no HTTP here.
 */

/** Where a change comes from, for its audit event: the person's IP address and, in a journey, the service they are on their way to. */
export interface Origin {
  ip: string | undefined
  clientId?: string | undefined
}

export interface Registration {
  email: string
  givenName: string
  familyName: string
}

/** Undefined when the address gained an account meanwhile (another tab): nothing is created. */
export async function createAccount(context: SigninContext, registration: Registration, password: string, from: Origin): Promise<Account | undefined> {
  const passwordHash = await hashPassword(password)
  const now = context.clock.now()
  return context.db.transaction().execute(async (trx) => {
    const created = await insertAccount(trx, { ...registration, passwordHash }, now)
    if (created) await recordAudit(trx, { event: 'account-created', outcome: 'success', accountId: created.id, email: created.email, ip: from.ip, clientId: from.clientId }, now)
    return created
  })
}

/** A new password after a forgotten one, proven by an emailed code: it also clears any sign-in lockout. */
export async function resetPassword(context: SigninContext, account: Account, password: string, from: Origin, c: EmailContext): Promise<void> {
  const passwordHash = await hashPassword(password)
  const now = context.clock.now()
  await context.db.transaction().execute(async (trx) => {
    await setPassword(trx, account.id, passwordHash, now)
    await queueEmail(trx, passwordChanged(account.email, c), now)
    await recordAudit(trx, { event: 'password-reset', outcome: 'success', accountId: account.id, email: account.email, ip: from.ip, clientId: from.clientId }, now)
  })
  // Proving control of the address and choosing a new password clears any lockout.
  await context.throttle.clear(account.email)
}

/** A new password in "Your account", the current one having been checked. */
export async function changePassword(context: SigninContext, account: Account, password: string, from: Origin): Promise<void> {
  const passwordHash = await hashPassword(password)
  const now = context.clock.now()
  await context.db.transaction().execute(async (trx) => {
    await setPassword(trx, account.id, passwordHash, now)
    await recordAudit(trx, { accountId: account.id, email: account.email, ip: from.ip, event: 'password-changed', outcome: 'success' }, now)
    await queueEmail(trx, passwordChangedInAccount(account.email, { signinName: context.config.serviceName }), now)
  })
}

export async function changeName(context: SigninContext, account: Account, name: { givenName: string, familyName: string }, from: Origin): Promise<void> {
  const now = context.clock.now()
  await context.db.transaction().execute(async (trx) => {
    await trx.updateTable('accounts').set({ given_name: name.givenName, family_name: name.familyName }).where('id', '=', account.id).execute()
    await recordAudit(trx, { event: 'name-changed', outcome: 'success', accountId: account.id, email: account.email, ip: from.ip }, now)
    await queueEmail(trx, nameChanged(account.email, `${name.givenName} ${name.familyName}`, { signinName: context.config.serviceName }), now)
  })
}

/**
 * The account takes the new address, proven by its code (ADR 13); the old address is told.
 * 'taken' when another account has it now (unique index: the change is rolled back, and
 * the refusal audited).
 */
export async function changeEmailAddress(context: SigninContext, account: Account, email: string, from: Origin): Promise<'changed' | 'taken'> {
  const now = context.clock.now()
  const who = { accountId: account.id, email: account.email, ip: from.ip }
  const changed = await changeEmail(context.db, account.id, email, async (trx) => {
    await recordAudit(trx, { ...who, event: 'email-changed', outcome: 'success', details: { from: account.email, to: email } }, now)
    await queueEmail(trx, emailAddressChanged(account.email, email, { signinName: context.config.serviceName }), now)
  })
  if (changed === 'taken') await recordAudit(context.db, { ...who, event: 'email-change-refused', outcome: 'failure', details: { reason: 'address has an account' } }, now)
  return changed
}

/**
 * The authenticator app being set up at sign-in, its code proven: confirmed, with new
 * recovery codes (returned to be shown once), and the person told by email: if it was not
 * them, they can act.
 */
export async function addAuthenticatorApp(context: SigninContext, account: { accountId: string, email: string }, factorId: string, from: Origin, c: EmailContext): Promise<string[]> {
  const now = context.clock.now()
  const who = { accountId: account.accountId, email: account.email, ip: from.ip, clientId: from.clientId }
  return context.db.transaction().execute(async (trx) => {
    await confirmApp(trx, account.accountId, factorId, now)
    await recordAudit(trx, { ...who, event: 'authenticator-app-added', outcome: 'success' }, now)
    const codes = await replaceRecoveryCodes(trx, account.accountId, context.codeKey, now)
    await recordAudit(trx, { ...who, event: 'recovery-codes-created', outcome: 'success' }, now)
    await queueEmail(trx, authenticatorAppAdded(account.email, c), now)
    return codes
  })
}

/**
 * A sign-in: the account's last sign-in time, and for a password its audit event (with the
 * address as typed) and, when the hash's parameters have been raised since, the same password
 * hashed afresh. A passkey's audit event is written as its answer is checked (passkey-actions.ts).
 */
export async function recordSignIn(context: SigninContext, account: Account, from: Origin,
  by: { method: 'password', typedEmail: string, password: string } | { method: 'passkey' }): Promise<void> {
  // Hashes carry their parameters: raise them in code and old hashes are upgraded here.
  const upgraded = by.method === 'password' && needsRehash(account.password_hash) ? await hashPassword(by.password) : undefined
  const now = context.clock.now()
  if (by.method === 'passkey') return markSignedIn(context.db, account.id, now, upgraded)
  await recordAuditWithChange(context.db, (db) => signedInUpdate(db, account.id, now, upgraded),
    { email: by.typedEmail, ip: from.ip, clientId: from.clientId, accountId: account.id, event: 'sign-in', outcome: 'success' }, now)
}
