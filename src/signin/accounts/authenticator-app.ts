import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import * as OTPAuth from 'otpauth'
import type { AttemptRule, ShortLivedStore } from '../../platform/short-lived-store.ts'
import type { SigninDatabase } from '../database/schema.ts'

/**
 * Authenticator apps (TOTP, RFC 6238; docs/security.md "authenticator app"): 6 digits,
 * 30-second steps, SHA-1 (what every app supports), one step of clock drift either way.
 * A code is accepted once: the step it matched is stored, and only a later step is
 * accepted afterwards, by one conditional UPDATE, so two requests with the same code
 * cannot both win. 5 wrong codes lock the app for 15 minutes, reserved before each check
 * in one atomic step of the short-lived store, as wrong passwords are.
 */
export const appRules = {
  periodSeconds: 30,
  digits: 6,
  driftSteps: 1,
  wrongCodesBeforeLockout: 5,
  lockoutMinutes: 15
}

const lockRule: AttemptRule = { limit: appRules.wrongCodesBeforeLockout, windowSeconds: 24 * 3600, lockSeconds: appRules.lockoutMinutes * 60 }

/** 20 random bytes (160 bits, RFC 4226's recommendation), in base32 as apps expect. */
export function newAppSecret(): string {
  return new OTPAuth.Secret({ size: 20 }).base32
}

/** The secret in groups of 4, for typing into an app by hand. */
export function groupedSecret(base32: string): string {
  return base32.match(/.{1,4}/g)!.join(' ')
}

function totp(base32: string, label = 'account'): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ issuer: 'DfE Sign-in', label, algorithm: 'SHA1', digits: appRules.digits, period: appRules.periodSeconds, secret: OTPAuth.Secret.fromBase32(base32) })
}

/** The code an app shows at `at` (tests, and the development persona). */
export function appCodeAt(base32: string, at: Date): string {
  return totp(base32).generate({ timestamp: at.getTime() })
}

/** The `otpauth://` URI an app scans, and the same as a QR code image (a data: URL, drawn on the server). */
export async function setUpDetails(base32: string, email: string): Promise<{ uri: string, qrDataUrl: string }> {
  const uri = totp(base32, email).toString()
  // The QR code library is loaded at the first set-up, not at start.
  const { default: QRCode } = await import('qrcode')
  return { uri, qrDataUrl: await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, width: 200 }) }
}

function encryptionKey(codeKey: Buffer): Buffer {
  return createHmac('sha256', codeKey).update('authenticator-app-secrets').digest()
}

/** AES-256-GCM with a key derived from the instance's code key: a copy of the table alone reveals no secret. */
export function encryptSecret(base32: string, codeKey: Buffer): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', encryptionKey(codeKey), iv)
  const sealed = Buffer.concat([cipher.update(base32, 'utf8'), cipher.final()])
  return [iv, cipher.getAuthTag(), sealed].map((part) => part.toString('base64url')).join('.')
}

export function decryptSecret(encrypted: string, codeKey: Buffer): string {
  const [iv, tag, sealed] = encrypted.split('.').map((part) => Buffer.from(part, 'base64url'))
  const decipher = createDecipheriv('aes-256-gcm', encryptionKey(codeKey), iv!)
  decipher.setAuthTag(tag!)
  return Buffer.concat([decipher.update(sealed!), decipher.final()]).toString('utf8')
}

/** The 30-second step a code matches at `now` (within one step of drift), or undefined. */
export function matchingStep(base32: string, code: string, now: Date): number | undefined {
  const delta = totp(base32).validate({ token: code, timestamp: now.getTime(), window: appRules.driftSteps })
  if (delta === null) return undefined
  return Math.floor(now.getTime() / 1000 / appRules.periodSeconds) + delta
}

/** Starts setting up an app: a new, unconfirmed factor (any earlier unconfirmed one is dropped). */
export async function beginAppSetUp(db: Kysely<SigninDatabase>, accountId: string, codeKey: Buffer, now: Date): Promise<{ factorId: string, secret: string }> {
  const secret = newAppSecret()
  const row = await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('account_factors').where('account_id', '=', accountId).where('kind', '=', 'authenticator-app').where('confirmed_at', 'is', null).execute()
    return trx.insertInto('account_factors').values({
      account_id: accountId, kind: 'authenticator-app', label: 'Authenticator app', secret_encrypted: encryptSecret(secret, codeKey),
      last_used_step: null, credential_id: null, public_key: null, sign_count: null, created_at: now, confirmed_at: null, last_used_at: null
    }).returning('id').executeTakeFirstOrThrow()
  })
  return { factorId: row.id, secret }
}

/** Adds an app with a known secret, confirmed (development persona, tests). */
export async function addConfirmedApp(db: Kysely<SigninDatabase>, accountId: string, secret: string, codeKey: Buffer, now: Date): Promise<string> {
  const row = await db.insertInto('account_factors').values({
    account_id: accountId, kind: 'authenticator-app', label: 'Authenticator app', secret_encrypted: encryptSecret(secret, codeKey),
    last_used_step: null, credential_id: null, public_key: null, sign_count: null, created_at: now, confirmed_at: now, last_used_at: null
  }).returning('id').executeTakeFirstOrThrow()
  return row.id
}

export async function appSecretOf(db: Kysely<SigninDatabase>, factorId: string, codeKey: Buffer): Promise<string | undefined> {
  const row = await db.selectFrom('account_factors').select('secret_encrypted').where('id', '=', factorId).executeTakeFirst()
  return row?.secret_encrypted ? decryptSecret(row.secret_encrypted, codeKey) : undefined
}

export type AppCheck =
  | { result: 'correct' }
  | { result: 'incorrect' | 'used', locksNow: boolean }
  | { result: 'locked', retryAfterMinutes: number }

function lockKey(factorId: string): string {
  return `app-code-failures:${factorId}`
}

/**
 * Checks a code for the account's confirmed app (or, with `factorId`, the app being set
 * up): reserve an attempt, then verify, then claim the step. A correct code clears the
 * failures; a wrong or replayed one keeps its reservation.
 */
export async function checkAppCode(db: Kysely<SigninDatabase>, store: ShortLivedStore, codeKey: Buffer, target: { accountId: string, factorId?: string | undefined }, code: string, now: Date): Promise<AppCheck> {
  let query = db.selectFrom('account_factors').select(['id', 'secret_encrypted'])
    .where('account_id', '=', target.accountId).where('kind', '=', 'authenticator-app')
  query = target.factorId ? query.where('id', '=', target.factorId) : query.where('confirmed_at', 'is not', null)
  const factor = await query.orderBy('created_at', 'desc').limit(1).executeTakeFirst()
  if (!factor?.secret_encrypted) return { result: 'incorrect', locksNow: false }
  const reservation = await store.reserveAttempt(lockKey(factor.id), lockRule, now)
  if (!reservation.allowed) {
    const until = reservation.lockedUntil?.getTime() ?? now.getTime() + appRules.lockoutMinutes * 60_000
    return { result: 'locked', retryAfterMinutes: Math.max(1, Math.ceil((until - now.getTime()) / 60_000)) }
  }
  const locksNow = reservation.count >= lockRule.limit
  const step = matchingStep(decryptSecret(factor.secret_encrypted, codeKey), code, now)
  if (step === undefined) return { result: 'incorrect', locksNow }
  // Claims the step: only a step later than the last accepted one wins, once.
  const claimed = await db.updateTable('account_factors').set({ last_used_step: step, last_used_at: now })
    .where('id', '=', factor.id)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
    .executeTakeFirst()
  if (Number(claimed.numUpdatedRows) !== 1) return { result: 'used', locksNow }
  await store.delete(lockKey(factor.id))
  return { result: 'correct' }
}

/** Finishes setting up: the factor becomes usable, and replaces any app the account had. */
export async function confirmApp(trx: Transaction<SigninDatabase>, accountId: string, factorId: string, now: Date): Promise<void> {
  await trx.deleteFrom('account_factors').where('account_id', '=', accountId).where('kind', '=', 'authenticator-app').where('id', '!=', factorId).execute()
  await trx.updateTable('account_factors').set({ confirmed_at: now }).where('id', '=', factorId).execute()
}
