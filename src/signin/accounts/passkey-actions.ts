import { queueEmail } from '../../platform/mail/outbox.ts'
import { recordAudit } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { passkeyAdded, passkeyRemoved } from '../passkey-emails.ts'
import { checkPasskey, defaultPasskeyName, relyingParty, removePasskey, savePasskey, verifyNewPasskey, type PasskeyCheck, type RelyingParty, type Refusal } from './passkeys.ts'
import { replaceRecoveryCodes } from './recovery-codes.ts'

/** Sign-in as a WebAuthn relying party: its own public URL (ADR 12). */
export function signinRelyingParty(context: SigninContext): RelyingParty {
  return relyingParty(context.config.publicUrl, context.config.serviceName)
}

/** Nothing was checked: the person cancelled, or the browser was refused a challenge. Not audited. */
export const unanswered = (reason: Refusal) => reason === 'missing' || reason === 'limit'

interface Who { accountId: string, email: string, ip: string | undefined, clientId?: string | undefined }

/** Who used a passkey, for the audit trail: `purpose` is set when signing in again in "Your account". */
export interface PasskeyUser { email: string | undefined, ip: string | undefined, clientId?: string | undefined, purpose?: 're-authenticate' | undefined }

/**
 * Audits a passkey's answer (ADR 12), the same wherever it is checked: `sign-in` (a passkey
 * alone at sign-in) or `second-factor` (after a password, or signing in again). A sign count
 * that did not go up (perhaps a copied key) is also kept as `passkey-refused`.
 */
export async function auditPasskeyCheck(context: SigninContext, who: PasskeyUser, checked: PasskeyCheck, event: 'sign-in' | 'second-factor'): Promise<void> {
  const now = context.clock.now()
  const base = { accountId: checked.accountId, email: who.email, ip: who.ip, clientId: who.clientId }
  if (checked.result === 'refused' && checked.reason === 'cloned') {
    await recordAudit(context.db, { ...base, event: 'passkey-refused', outcome: 'failure', details: { reason: 'sign-count-not-increased', factorId: checked.factorId ?? '' } }, now)
  }
  const outcome = checked.result === 'correct' ? 'success' : 'failure'
  const details = { factor: 'passkey', ...(checked.result === 'refused' ? { result: checked.reason } : {}), ...(who.purpose ? { purpose: who.purpose } : {}) }
  await recordAudit(context.db, { ...base, event, outcome, details }, now)
}

/**
 * Proves one of the account's passkeys as a factor (after a password at sign-in, or when
 * signing in again): the check (challenge taken once, bound to `binding` and the account;
 * user verification; origin and RP ID; sign count forward only) and its audit event. An
 * empty answer (the person cancelled) is not audited.
 */
export async function provePasskey(context: SigninContext, who: PasskeyUser & { accountId: string }, binding: string, responseJson: string): Promise<PasskeyCheck> {
  const checked = await checkPasskey(context.db, context.store, signinRelyingParty(context), binding, responseJson, context.clock.now(), who.accountId)
  if (checked.result === 'correct' || !unanswered(checked.reason)) await auditPasskeyCheck(context, who, { ...checked, accountId: who.accountId }, 'second-factor')
  return checked
}

export type AddPasskeyResult =
  | { ok: true, name: string, recoveryCodes: string[] | undefined }
  | { ok: false, reason: Refusal | 'duplicate' }

/**
 * Adds a passkey (the verb): checks the registration, then in one transaction saves it,
 * audits it, makes 10 recovery codes when it is the account's first passkey or app, and
 * queues the email that tells the person.
 */
export async function addPasskey(context: SigninContext, who: Who, binding: string, responseJson: string, typedName: string): Promise<AddPasskeyResult> {
  const checked = await verifyNewPasskey(context.store, signinRelyingParty(context), binding, who.accountId, responseJson)
  const now = context.clock.now()
  const audit = { accountId: who.accountId, email: who.email, ip: who.ip, clientId: who.clientId }
  if (!checked.ok) {
    if (!unanswered(checked.reason)) await recordAudit(context.db, { ...audit, event: 'passkey-added', outcome: 'failure', details: { reason: checked.reason } }, now)
    return checked
  }
  const name = typedName.trim() || defaultPasskeyName(now)
  return context.db.transaction().execute(async (trx): Promise<AddPasskeyResult> => {
    const saved = await savePasskey(trx, who.accountId, checked.passkey, name, now)
    if (!saved) {
      await recordAudit(trx, { ...audit, event: 'passkey-added', outcome: 'failure', details: { reason: 'duplicate' } }, now)
      return { ok: false, reason: 'duplicate' }
    }
    await recordAudit(trx, { ...audit, event: 'passkey-added', outcome: 'success', details: { factorId: saved.factorId } }, now)
    let recoveryCodes: string[] | undefined
    if (saved.firstStrongFactor) {
      recoveryCodes = await replaceRecoveryCodes(trx, who.accountId, context.codeKey, now)
      await recordAudit(trx, { ...audit, event: 'recovery-codes-created', outcome: 'success' }, now)
    }
    await queueEmail(trx, passkeyAdded(who.email, name, recoveryCodes !== undefined, { signinName: context.config.serviceName }), now)
    return { ok: true, name, recoveryCodes }
  })
}

/** Removes a passkey (the verb), with its audit event and email; false when it was not the account's. */
export async function deletePasskey(context: SigninContext, who: Who, factorId: string): Promise<boolean> {
  const now = context.clock.now()
  return context.db.transaction().execute(async (trx) => {
    const name = await removePasskey(trx, who.accountId, factorId)
    if (name === undefined) return false
    await recordAudit(trx, { accountId: who.accountId, email: who.email, ip: who.ip, event: 'passkey-removed', outcome: 'success', details: { factorId } }, now)
    await queueEmail(trx, passkeyRemoved(who.email, name, { signinName: context.config.serviceName }), now)
    return true
  })
}
