import type { Kysely, Transaction } from 'kysely'
import type { SigninDatabase } from '../database/schema.ts'

type Db = Kysely<SigninDatabase> | Transaction<SigninDatabase>

/**
 * How people prove who they are (ADR 10). Every account has a password and an email
 * address confirmed with a code; some also have an authenticator app (with recovery
 * codes). After a correct password Sign-in asks for a second factor: the strongest the
 * account has is offered first, and the person may choose another.
 */
export type SecondFactor = 'passkey' | 'authenticator-app' | 'email-code' | 'recovery-code'

/** What was proven in one sign-in, in the order it happened. */
export type ProvenMethod = 'password' | SecondFactor

/**
 * Authentication Context Class References (ADR 10): the OpenID Foundation's PAPE policy
 * URIs, which relying parties already know. Higher in this list is stronger; a request
 * for one is met by it or any stronger one.
 */
export const acrValues = {
  /** A passkey (WebAuthn, user verification required): bound to Sign-in's origin, so a look-alike site cannot relay it (ADR 12). */
  phishingResistant: 'http://schemas.openid.net/pape/policies/2007/06/phishing-resistant',
  /** Password and an authenticator app: a device in the person's hand, apart from their mailbox. */
  app: 'http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical',
  /** Password and a second step of any kind: an emailed code, an app, or a recovery code. */
  multiFactor: 'http://schemas.openid.net/pape/policies/2007/06/multi-factor'
} as const

export type Acr = typeof acrValues[keyof typeof acrValues]

/** Strongest first: what discovery advertises as `acr_values_supported`. */
export const supportedAcrValues: Acr[] = [acrValues.phishingResistant, acrValues.app, acrValues.multiFactor]

function acrRank(acr: string | undefined): number {
  const index = supportedAcrValues.indexOf(acr as Acr)
  return index === -1 ? -1 : supportedAcrValues.length - index
}

/** True when a sign-in at `achieved` meets a request for any one of `requested` (none requested: always). */
export function acrSatisfies(achieved: string | undefined, requested: string[]): boolean {
  const known = requested.filter((value) => acrRank(value) > 0)
  if (known.length === 0) return true
  const needed = Math.min(...known.map(acrRank))
  return acrRank(achieved) >= needed
}

/** The weakest of `requested` that Sign-in knows, to aim for (undefined: nothing asked). */
export function targetAcr(requested: string[]): Acr | undefined {
  const known = requested.filter((value) => acrRank(value) > 0) as Acr[]
  if (known.length === 0) return undefined
  return known.reduce((weakest, value) => acrRank(value) < acrRank(weakest) ? value : weakest)
}

/**
 * The `acr` and `amr` (RFC 8176) of a sign-in from what was proven in it.
 * `pwd` for the password; `otp` for a one-time code, whether emailed or from an app;
 * `mfa` only when the second factor is independent of the mailbox that can also reset
 * the password (an app or a recovery code): NIST SP 800-63B does not count email as an
 * authenticator, and RFC 8176 defines `mfa` by NIST's terms. See ADR 10.
 * A passkey is `hwk` (a key held in hardware the person has); alone, with the `user`
 * verification the authenticator did (a PIN or biometric), it is a whole sign-in (ADR 12).
 */
export function authenticationResult(proven: ProvenMethod[]): { acr: Acr, amr: string[] } | undefined {
  if (proven.includes('passkey')) {
    return { acr: acrValues.phishingResistant, amr: proven.includes('password') ? ['pwd', 'mfa', 'hwk'] : ['hwk', 'user'] }
  }
  if (!proven.includes('password')) return undefined
  const amr = ['pwd']
  if (proven.includes('authenticator-app')) return { acr: acrValues.app, amr: [...amr, 'mfa', 'otp'] }
  if (proven.includes('recovery-code')) return { acr: acrValues.multiFactor, amr: [...amr, 'mfa', 'otp'] }
  if (proven.includes('email-code')) return { acr: acrValues.multiFactor, amr: [...amr, 'otp'] }
  return undefined
}

/** Which methods prove enough for `target`: only a passkey meets the phishing-resistant level; an app or a passkey the app level. */
export function factorMeets(factor: SecondFactor, target: Acr | undefined): boolean {
  if (target === acrValues.phishingResistant) return factor === 'passkey'
  if (target === acrValues.app) return factor === 'passkey' || factor === 'authenticator-app'
  return true
}

/**
 * The factors to offer now, strongest first: those that meet the target, or, when the
 * account has none that does, the others (the person proves a second factor first, and
 * may then add what the service needs).
 */
export function factorsToOffer(factors: SecondFactor[], proven: ProvenMethod[], target: Acr | undefined): { offered: SecondFactor[], meetsTarget: boolean } {
  const unproven = factors.filter((factor) => !proven.includes(factor))
  const meeting = unproven.filter((factor) => factorMeets(factor, target))
  return meeting.length > 0 ? { offered: meeting, meetsTarget: true } : { offered: unproven, meetsTarget: false }
}

/** The second factors an account can use now, strongest first. Email is always there. */
export async function secondFactorsOf(db: Db, accountId: string): Promise<SecondFactor[]> {
  // One round trip: whether a recovery code is left rides along with each factor's row.
  const rows = await db.selectFrom('account_factors')
    .select((eb) => ['kind', eb.exists(eb.selectFrom('recovery_codes').select('id')
      .where('account_id', '=', accountId).where('used_at', 'is', null)).as('recovery_left')])
    .where('account_id', '=', accountId).where('confirmed_at', 'is not', null).execute()
  const hasApp = rows.some((row) => row.kind === 'authenticator-app')
  const hasPasskey = rows.some((row) => row.kind === 'passkey')
  // Recovery codes come with an app or a passkey: without either they are not offered.
  const recovery = (hasApp || hasPasskey) && rows[0]!.recovery_left
  return [...(hasPasskey ? ['passkey' as const] : []), ...(hasApp ? ['authenticator-app' as const] : []), 'email-code', ...(recovery ? ['recovery-code' as const] : [])]
}
