import type { AttemptRule, ShortLivedStore } from '../../platform/short-lived-store.ts'

/**
 * How many passkey challenges may be made (docs/security.md, "passkeys"). Each press of a
 * passkey button asks for options, and each set of options keeps a challenge for 5
 * minutes in the short-lived store, so without a limit one session, or one address, could
 * fill the store. Counted before the challenge is made, in one atomic step of the store,
 * so however many requests arrive at once, on however many nodes, no more are made.
 *
 * Per session (the challenge's binding: one sign-in's interaction, or one account's
 * Sign-in session): 10 in 5 minutes, more than a person pressing "try again" needs.
 * Per IP address: 300 in 5 minutes, enough for a school or trust behind one address.
 */
export const challengeLimits = {
  perSession: 10,
  perIp: 300,
  windowSeconds: 300
}

/** What the browser script sends as the answer when the options were refused (assets/passkeys.js). */
export const tooManyChallengesAnswer = 'too-many-requests'

const sessionRule: AttemptRule = { limit: challengeLimits.perSession, windowSeconds: challengeLimits.windowSeconds }
const ipRule: AttemptRule = { limit: challengeLimits.perIp, windowSeconds: challengeLimits.windowSeconds }

/** Reserves one challenge for this session and this IP address; false when either has made its most. */
export async function mayMakeChallenge(store: ShortLivedStore, binding: string, ip: string | undefined, now: Date): Promise<boolean> {
  const session = await store.reserveAttempt(`passkey-challenges:${binding}`, sessionRule, now)
  if (!session.allowed) return false
  const network = await store.reserveAttempt(`passkey-challenges-ip:${ip ?? 'unknown'}`, ipRule, now)
  return network.allowed
}
