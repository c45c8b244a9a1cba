import { queueEmail } from '../../platform/mail/outbox.ts'
import { recordAudit } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { passkeyAdded, passkeyRemoved } from '../passkey-emails.ts'
import { defaultPasskeyName, relyingParty, removePasskey, savePasskey, verifyNewPasskey, type RelyingParty, type Refusal } from './passkeys.ts'
import { replaceRecoveryCodes } from './recovery-codes.ts'

/** Sign-in as a WebAuthn relying party: its own public URL (ADR 12). */
export function signinRelyingParty(context: SigninContext): RelyingParty {
  return relyingParty(context.config.publicUrl, context.config.serviceName)
}

interface Who { accountId: string, email: string, ip: string | undefined, clientId?: string | undefined }

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
    if (checked.reason !== 'missing') await recordAudit(context.db, { ...audit, event: 'passkey-added', outcome: 'failure', details: { reason: checked.reason } }, now)
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
