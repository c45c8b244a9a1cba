import type {
  AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON
} from '@simplewebauthn/server'
import { sql, type Kysely, type Transaction } from 'kysely'
import type { ShortLivedStore } from '../../platform/short-lived-store.ts'
import type { SigninDatabase } from '../database/schema.ts'
import { tooManyChallengesAnswer } from './passkey-challenge-limit.ts'

/**
 * Passkeys (WebAuthn; ADR 12, docs/security.md "passkeys"). The relying party is Sign-in
 * itself: its RP ID is the host of its public URL and only that origin is accepted, so a
 * passkey cannot be used by a look-alike site. User verification (a PIN or biometric on
 * the authenticator) is required every time; attestation is not asked for ("none").
 * Every challenge is kept server-side for 5 minutes, bound to the session that asked for
 * it, and taken (read and deleted in one step) before the answer is checked: one
 * challenge can prove something once, however many requests carry it at once.
 */
export const passkeyRules = {
  challengeSeconds: 300,
  nameMaxLength: 50,
  /** How many passkeys one account may hold (the list in Your account stays readable). */
  maxPerAccount: 20
}

export interface RelyingParty { rpID: string, origin: string, name: string }

/**
 * SimpleWebAuthn (and the ASN.1, CBOR and X.509 code under it) is loaded at the first
 * ceremony, not at start: a node that never sees a passkey does not hold it in memory
 * (docs/performance.md, Memory).
 */
const webAuthn = () => import('@simplewebauthn/server')

const base64url = {
  fromBytes: (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url'),
  toBytes: (text: string) => new Uint8Array(Buffer.from(text, 'base64url'))
}

export function relyingParty(publicUrl: string, name: string): RelyingParty {
  const url = new URL(publicUrl)
  return { rpID: url.hostname, origin: url.origin, name }
}

type Db = Kysely<SigninDatabase> | Transaction<SigninDatabase>
type Purpose = 'register' | 'authenticate'
interface KeptChallenge { purpose: Purpose, binding: string, accountId?: string | undefined }

const challengeKey = (challenge: string) => `passkey-challenge:${challenge}`

/** The WebAuthn user handle: the account's id, which says nothing about the person. */
export function userHandleOf(accountId: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(accountId)
}

/** The default name: "Passkey added 29 November 2026". */
export function defaultPasskeyName(now: Date): string {
  return `Passkey added ${now.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'Europe/London' })}`
}

export function passkeyNameProblem(name: string): string | undefined {
  if (name.length > passkeyRules.nameMaxLength) return `Passkey name must be ${passkeyRules.nameMaxLength} characters or fewer`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f<>]/.test(name)) return 'Passkey name must only include letters, numbers, spaces and punctuation other than < and >'
  return undefined
}

async function passkeyIdsOf(db: Db, accountId: string): Promise<string[]> {
  const rows = await db.selectFrom('account_factors').select('credential_id')
    .where('account_id', '=', accountId).where('kind', '=', 'passkey').where('confirmed_at', 'is not', null).execute()
  return rows.map((row) => row.credential_id!).filter(Boolean)
}

/**
 * Options for adding a passkey to an account: resident key preferred (so it can sign in
 * alone later), user verification required, the account's passkeys excluded (an
 * authenticator cannot be added twice). `binding` names the session that may answer.
 */
export async function registrationOptions(db: Db, store: ShortLivedStore, rp: RelyingParty, account: { id: string, email: string, name: string }, binding: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { generateRegistrationOptions } = await webAuthn()
  const options = await generateRegistrationOptions({
    rpName: rp.name, rpID: rp.rpID,
    userID: userHandleOf(account.id), userName: account.email, userDisplayName: account.name,
    attestationType: 'none',
    excludeCredentials: (await passkeyIdsOf(db, account.id)).map((id) => ({ id })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    supportedAlgorithmIDs: [-7, -257],
    timeout: passkeyRules.challengeSeconds * 1000
  })
  await store.set(challengeKey(options.challenge), { purpose: 'register', binding, accountId: account.id } satisfies KeptChallenge, passkeyRules.challengeSeconds)
  return options
}

/**
 * Options for using a passkey: the account's own (second factor after a password) or,
 * with no account, any passkey for Sign-in the authenticator holds (discoverable).
 */
export async function authenticationOptions(db: Db, store: ShortLivedStore, rp: RelyingParty, binding: string, accountId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { generateAuthenticationOptions } = await webAuthn()
  const options = await generateAuthenticationOptions({
    rpID: rp.rpID,
    allowCredentials: accountId ? (await passkeyIdsOf(db, accountId)).map((id) => ({ id })) : [],
    userVerification: 'required',
    timeout: passkeyRules.challengeSeconds * 1000
  })
  await store.set(challengeKey(options.challenge), { purpose: 'authenticate', binding, accountId } satisfies KeptChallenge, passkeyRules.challengeSeconds)
  return options
}

/** Parses what the browser sent; undefined for anything that is not a credential's JSON. */
function parseCredential<T extends { id: string, response: { clientDataJSON: string } }>(json: string): T | undefined {
  if (json.length === 0 || json.length > 12_000) return undefined
  try {
    const parsed = JSON.parse(json) as T
    if (typeof parsed?.id !== 'string' || typeof parsed.response?.clientDataJSON !== 'string') return undefined
    return parsed
  } catch {
    return undefined
  }
}

/** Takes the challenge the answer signed: only once, only by the session it was made for. */
async function takeChallenge(store: ShortLivedStore, credential: { response: { clientDataJSON: string } }, purpose: Purpose, binding: string): Promise<{ challenge: string, kept: KeptChallenge } | undefined> {
  let challenge: unknown
  try {
    challenge = (JSON.parse(Buffer.from(credential.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown }).challenge
  } catch {
    return undefined
  }
  if (typeof challenge !== 'string' || challenge.length > 200) return undefined
  const kept = await store.take<KeptChallenge>(challengeKey(challenge))
  if (!kept || kept.purpose !== purpose || kept.binding !== binding) return undefined
  return { challenge, kept }
}

export type NewPasskey = { credentialId: string, publicKey: string, signCount: number }
/** `limit`: the browser was refused options (too many challenges), so it had nothing to answer. */
export type Refusal = 'missing' | 'limit' | 'challenge' | 'invalid' | 'unknown' | 'cloned'

/** Checks a new passkey's registration for `accountId`. */
export async function verifyNewPasskey(store: ShortLivedStore, rp: RelyingParty, binding: string, accountId: string, json: string): Promise<{ ok: true, passkey: NewPasskey } | { ok: false, reason: Refusal }> {
  if (json === tooManyChallengesAnswer) return { ok: false, reason: 'limit' }
  const credential = parseCredential<RegistrationResponseJSON>(json)
  if (!credential) return { ok: false, reason: 'missing' }
  const taken = await takeChallenge(store, credential, 'register', binding)
  if (!taken || taken.kept.accountId !== accountId) return { ok: false, reason: 'challenge' }
  try {
    const { verifyRegistrationResponse } = await webAuthn()
    const verification = await verifyRegistrationResponse({
      response: credential, expectedChallenge: taken.challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpID, requireUserVerification: true
    })
    if (!verification.verified) return { ok: false, reason: 'invalid' }
    const { credential: made } = verification.registrationInfo
    return { ok: true, passkey: { credentialId: made.id, publicKey: base64url.fromBytes(made.publicKey), signCount: made.counter } }
  } catch {
    return { ok: false, reason: 'invalid' }
  }
}

/**
 * Saves a verified passkey, confirmed. Returns undefined when the credential is already
 * registered (the unique index decides) or the account has its most passkeys. The account
 * row is locked first, so "is this the first strong factor?" has one answer.
 */
export async function savePasskey(trx: Transaction<SigninDatabase>, accountId: string, passkey: NewPasskey, name: string, now: Date): Promise<{ factorId: string, firstStrongFactor: boolean } | undefined> {
  await sql`select id from accounts where id = ${accountId} for update`.execute(trx)
  const existing = await trx.selectFrom('account_factors').select('kind')
    .where('account_id', '=', accountId).where('confirmed_at', 'is not', null).execute()
  if (existing.filter((row) => row.kind === 'passkey').length >= passkeyRules.maxPerAccount) return undefined
  const row = await trx.insertInto('account_factors').values({
    account_id: accountId, kind: 'passkey', label: name, secret_encrypted: null, last_used_step: null,
    credential_id: passkey.credentialId, public_key: passkey.publicKey, sign_count: passkey.signCount,
    created_at: now, confirmed_at: now, last_used_at: null
  }).onConflict((c) => c.column('credential_id').doNothing()).returning('id').executeTakeFirst()
  if (!row) return undefined
  return { factorId: row.id, firstStrongFactor: existing.length === 0 }
}

export type PasskeyCheck =
  | { result: 'correct', accountId: string, factorId: string, name: string }
  | { result: 'refused', reason: Refusal, accountId?: string | undefined, factorId?: string | undefined }

/**
 * Checks a passkey's answer to a challenge (with `accountId`: one of that account's
 * passkeys). The sign count is the authenticator's: when it is in use (non-zero) it must
 * go up at every use. One that does not may be a copied key, and is refused (and the
 * caller audits it); the stored count moves only forward, by one conditional UPDATE.
 */
export async function checkPasskey(db: Kysely<SigninDatabase>, store: ShortLivedStore, rp: RelyingParty, binding: string, json: string, now: Date, accountId?: string): Promise<PasskeyCheck> {
  if (json === tooManyChallengesAnswer) return { result: 'refused', reason: 'limit' }
  const credential = parseCredential<AuthenticationResponseJSON>(json)
  if (!credential || typeof credential.response.authenticatorData !== 'string') return { result: 'refused', reason: 'missing' }
  const taken = await takeChallenge(store, credential, 'authenticate', binding)
  if (!taken || taken.kept.accountId !== accountId) return { result: 'refused', reason: 'challenge' }
  let query = db.selectFrom('account_factors').select(['id', 'account_id', 'label', 'public_key', 'sign_count'])
    .where('credential_id', '=', credential.id).where('kind', '=', 'passkey').where('confirmed_at', 'is not', null)
  if (accountId) query = query.where('account_id', '=', accountId)
  const factor = await query.executeTakeFirst()
  if (!factor?.public_key) return { result: 'refused', reason: 'unknown' }
  const refused = (reason: Refusal): PasskeyCheck => ({ result: 'refused', reason, accountId: factor.account_id, factorId: factor.id })
  const handle = credential.response.userHandle
  if (handle && handle !== base64url.fromBytes(userHandleOf(factor.account_id))) return refused('invalid')
  const stored = Number(factor.sign_count ?? 0)
  let newCount: number
  try {
    // The library's own counter check is switched off (0): ours below tells a copied key from a bad signature.
    const { verifyAuthenticationResponse } = await webAuthn()
    const verification = await verifyAuthenticationResponse({
      response: credential, expectedChallenge: taken.challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpID,
      requireUserVerification: true,
      credential: { id: credential.id, publicKey: base64url.toBytes(factor.public_key), counter: 0 }
    })
    if (!verification.verified) return refused('invalid')
    newCount = verification.authenticationInfo.newCounter
  } catch {
    return refused('invalid')
  }
  if ((stored > 0 || newCount > 0) && newCount <= stored) return refused('cloned')
  const moved = await db.updateTable('account_factors').set({ sign_count: newCount, last_used_at: now })
    .where('id', '=', factor.id)
    .where((eb) => newCount === 0 ? eb('sign_count', '=', 0) : eb.or([eb('sign_count', 'is', null), eb('sign_count', '<', newCount)]))
    .executeTakeFirst()
  if (Number(moved.numUpdatedRows) !== 1) return refused('cloned')
  return { result: 'correct', accountId: factor.account_id, factorId: factor.id, name: factor.label }
}

export interface PasskeySummary { id: string, name: string, addedAt: Date, lastUsedAt: Date | null }

export async function passkeysOf(db: Db, accountId: string): Promise<PasskeySummary[]> {
  const rows = await db.selectFrom('account_factors').select(['id', 'label', 'created_at', 'last_used_at'])
    .where('account_id', '=', accountId).where('kind', '=', 'passkey').where('confirmed_at', 'is not', null)
    .orderBy('created_at', 'asc').execute()
  return rows.map((row) => ({ id: row.id, name: row.label, addedAt: row.created_at, lastUsedAt: row.last_used_at }))
}

/** Removes one of the account's passkeys; its name, or undefined when there was none. */
export async function removePasskey(trx: Transaction<SigninDatabase>, accountId: string, factorId: string): Promise<string | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(factorId)) return undefined
  const row = await trx.deleteFrom('account_factors').where('id', '=', factorId).where('account_id', '=', accountId)
    .where('kind', '=', 'passkey').returning('label').executeTakeFirst()
  return row?.label
}
