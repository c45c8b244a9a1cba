import { createHash } from 'node:crypto'
import type { ShortLivedStore } from '../../platform/short-lived-store.ts'
import { normaliseEmail } from './accounts.ts'

/**
 * Wrong-password limits (security.md, "wrong passwords"): after 5 consecutive failures
 * for one address, 15 minutes refused, counted the same whether or not an account exists;
 * success clears the count; and at most 100 failures an hour from one IP address.
 */
export const throttleRules = {
  failuresBeforeLockout: 5,
  lockoutMinutes: 15,
  failuresPerIpPerHour: 100
}

interface AddressRecord {
  failures: number
  lockedUntil?: number
}

export type ThrottleState = { allowed: true } | { allowed: false, retryAfterMinutes: number, reason: 'address' | 'ip' }

function addressKey(email: string): string {
  return 'signin-failures:' + createHash('sha256').update(normaliseEmail(email)).digest('base64url')
}

function ipKey(ip: string): string {
  return 'signin-ip-failures:' + ip
}

export class SignInThrottle {
  readonly #store: ShortLivedStore
  constructor(store: ShortLivedStore) {
    this.#store = store
  }

  async check(email: string, ip: string, now: Date): Promise<ThrottleState> {
    const record = await this.#store.get<AddressRecord>(addressKey(email))
    if (record?.lockedUntil && record.lockedUntil > now.getTime()) {
      return { allowed: false, reason: 'address', retryAfterMinutes: Math.ceil((record.lockedUntil - now.getTime()) / 60_000) }
    }
    const ipFailures = await this.#store.get<number>(ipKey(ip))
    if (typeof ipFailures === 'number' && ipFailures >= throttleRules.failuresPerIpPerHour) {
      return { allowed: false, reason: 'ip', retryAfterMinutes: 60 }
    }
    return { allowed: true }
  }

  /** Returns true when this failure started a lockout. */
  async recordFailure(email: string, ip: string, now: Date): Promise<boolean> {
    await this.#store.increment(ipKey(ip), 3600)
    const key = addressKey(email)
    const record = await this.#store.get<AddressRecord>(key)
    const expired = record?.lockedUntil !== undefined && record.lockedUntil <= now.getTime()
    const failures = (expired || !record ? 0 : record.failures) + 1
    const locked = failures >= throttleRules.failuresBeforeLockout
    const next: AddressRecord = locked
      ? { failures: 0, lockedUntil: now.getTime() + throttleRules.lockoutMinutes * 60_000 }
      : { failures }
    // Kept a day: "consecutive" failures need not be within any window.
    await this.#store.set(key, next, 24 * 3600)
    return locked
  }

  async recordSuccess(email: string): Promise<void> {
    await this.#store.delete(addressKey(email))
  }
}
