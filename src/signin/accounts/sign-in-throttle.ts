import { createHash } from 'node:crypto'
import type { AttemptRule, ShortLivedStore } from '../../platform/short-lived-store.ts'
import { normaliseEmail } from './accounts.ts'

/**
 * Wrong-password limits (docs/security.md, "wrong passwords"): after 5 consecutive
 * failures for one address, 15 minutes refused, counted the same whether or not an
 * account exists; success clears the count; and at most 100 failures an hour from one IP
 * address.
 *
 * Each attempt is reserved before its password is checked, in one atomic step of the
 * short-lived store, and a success gives its reservation back. So however many requests
 * arrive together, on however many nodes, at most 5 passwords are checked per address
 * and 100 per IP address before the lock: the count can never be read by two requests
 * that both think they are the fourth.
 */
export const throttleRules = {
  failuresBeforeLockout: 5,
  lockoutMinutes: 15,
  failuresPerIpPerHour: 100
}

/** "Consecutive": failures are forgotten only by a success, a lockout, or a day without one. */
const addressRule: AttemptRule = { limit: throttleRules.failuresBeforeLockout, windowSeconds: 24 * 3600, lockSeconds: throttleRules.lockoutMinutes * 60 }
const ipRule: AttemptRule = { limit: throttleRules.failuresPerIpPerHour, windowSeconds: 3600 }

export type ThrottleRefusal = { allowed: false, reason: 'address' | 'ip', retryAfterMinutes: number }
/** An attempt that may go ahead; `locksIfWrong` says a wrong password now starts a lockout. */
export type ThrottleReservation = { allowed: true, locksIfWrong: boolean, retryAfterMinutesIfWrong: number }

function addressKey(email: string): string {
  return 'signin-failures:' + createHash('sha256').update(normaliseEmail(email)).digest('base64url')
}

function ipKey(ip: string): string {
  return 'signin-ip-failures:' + ip
}

function minutesUntil(until: Date | undefined, now: Date, otherwise: number): number {
  return until ? Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 60_000)) : otherwise
}

export class SignInThrottle {
  readonly #store: ShortLivedStore
  constructor(store: ShortLivedStore) {
    this.#store = store
  }

  /**
   * Reserves one password check for this address and this IP address, or says why not.
   * A reservation that is never given back counts as a failure.
   */
  async reserve(email: string, ip: string, now: Date): Promise<ThrottleReservation | ThrottleRefusal> {
    // Both at once (one round trip); a refusal gives back what the other reserved, so the
    // counts end as if the address were asked first and the IP address only if it allowed.
    const [address, network] = await Promise.all([this.#store.reserveAttempt(addressKey(email), addressRule, now), this.#store.reserveAttempt(ipKey(ip), ipRule, now)])
    if (!address.allowed) {
      // Refused for the address: the IP address's count should not pay for it.
      await this.#store.releaseAttempt(ipKey(ip), ipRule, now)
      return { allowed: false, reason: 'address', retryAfterMinutes: minutesUntil(address.lockedUntil, now, throttleRules.lockoutMinutes) }
    }
    if (!network.allowed) {
      // Refused before any check: this address's count should not pay for it.
      await this.#store.releaseAttempt(addressKey(email), addressRule, now)
      return { allowed: false, reason: 'ip', retryAfterMinutes: minutesUntil(network.lockedUntil, now, 60) }
    }
    return {
      allowed: true,
      locksIfWrong: address.count >= addressRule.limit,
      retryAfterMinutesIfWrong: minutesUntil(address.lockedUntil, now, throttleRules.lockoutMinutes)
    }
  }

  /** The password was right: the address's failures are forgotten and the IP's reservation given back. */
  async succeeded(email: string, ip: string, now: Date): Promise<void> {
    // Two keys, neither depending on the other: sent together, one round trip.
    await Promise.all([this.clear(email), this.#store.releaseAttempt(ipKey(ip), ipRule, now)])
  }

  /** Gives back both reservations of an attempt that was never checked. */
  async release(email: string, ip: string, now: Date): Promise<void> {
    await this.#store.releaseAttempt(addressKey(email), addressRule, now)
    await this.#store.releaseAttempt(ipKey(ip), ipRule, now)
  }

  /** Forgets an address's failures (a password reset proves control of the address). */
  async clear(email: string): Promise<void> {
    await this.#store.delete(addressKey(email))
  }
}
