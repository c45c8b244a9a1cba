import { randomInt } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import type { AttemptRule, ShortLivedStore } from '../../platform/short-lived-store.ts'
import type { SigninDatabase } from '../database/schema.ts'
import { hashCode } from './six-digit-codes.ts'

/**
 * Recovery codes (docs/security.md "recovery codes"): 10 at a time, made when an
 * authenticator app is set up and shown once; stored as keyed hashes; each used once
 * (one conditional UPDATE claims it, so two requests with the same code cannot both
 * win); 5 wrong codes lock recovery for 15 minutes, reserved before each check.
 */
export const recoveryRules = {
  count: 10,
  wrongCodesBeforeLockout: 5,
  lockoutMinutes: 15
}

// No 0/o, 1/l/i: easy to copy from paper. 31 symbols, 10 of them: about 49 bits each.
const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789'
const lockRule: AttemptRule = { limit: recoveryRules.wrongCodesBeforeLockout, windowSeconds: 24 * 3600, lockSeconds: recoveryRules.lockoutMinutes * 60 }

function newRecoveryCode(): string {
  const symbols = Array.from({ length: 10 }, () => alphabet[randomInt(alphabet.length)]).join('')
  return `${symbols.slice(0, 5)}-${symbols.slice(5)}`
}

/** What was typed, lower-cased, without spaces or dashes; undefined unless it could be a code. */
export function normaliseRecoveryCode(raw: string): string | undefined {
  if (raw.length > 64) return undefined
  const code = raw.toLowerCase().replace(/[\s\-\u2010-\u2015\u2212]/gu, '')
  return /^[a-z0-9]{10}$/.test(code) ? code : undefined
}

/** Replaces the account's recovery codes with 10 new ones; returns them (the only time they exist unhashed). */
export async function replaceRecoveryCodes(trx: Kysely<SigninDatabase> | Transaction<SigninDatabase>, accountId: string, key: Buffer, now: Date): Promise<string[]> {
  const codes = Array.from({ length: recoveryRules.count }, newRecoveryCode)
  await trx.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute()
  await trx.insertInto('recovery_codes').values(codes.map((code) => ({
    account_id: accountId, code_hash: hashCode(normaliseRecoveryCode(code)!, key), created_at: now, used_at: null
  }))).execute()
  return codes
}

/** Adds known recovery codes to an account (the development persona, tests): stored hashed like any other. */
export async function addKnownRecoveryCodes(db: Kysely<SigninDatabase> | Transaction<SigninDatabase>, accountId: string, codes: string[], key: Buffer, now: Date): Promise<void> {
  await db.insertInto('recovery_codes').values(codes.map((code) => {
    const normalised = normaliseRecoveryCode(code)
    if (!normalised) throw new Error(`not a recovery code: ${code}`)
    return { account_id: accountId, code_hash: hashCode(normalised, key), created_at: now, used_at: null }
  })).execute()
}

export type RecoveryCheck =
  | { result: 'correct', remaining: number }
  | { result: 'incorrect', locksNow: boolean }
  | { result: 'locked', retryAfterMinutes: number }

export async function useRecoveryCode(db: Kysely<SigninDatabase>, store: ShortLivedStore, key: Buffer, accountId: string, code: string, now: Date): Promise<RecoveryCheck> {
  const lockKey = `recovery-code-failures:${accountId}`
  const reservation = await store.reserveAttempt(lockKey, lockRule, now)
  if (!reservation.allowed) {
    const until = reservation.lockedUntil?.getTime() ?? now.getTime() + recoveryRules.lockoutMinutes * 60_000
    return { result: 'locked', retryAfterMinutes: Math.max(1, Math.ceil((until - now.getTime()) / 60_000)) }
  }
  const claimed = await db.updateTable('recovery_codes').set({ used_at: now })
    .where('account_id', '=', accountId).where('code_hash', '=', hashCode(code, key)).where('used_at', 'is', null)
    .returning('id').executeTakeFirst()
  if (!claimed) return { result: 'incorrect', locksNow: reservation.count >= lockRule.limit }
  await store.delete(lockKey)
  const left = await db.selectFrom('recovery_codes').select(({ fn }) => fn.countAll<string>().as('n'))
    .where('account_id', '=', accountId).where('used_at', 'is', null).executeTakeFirstOrThrow()
  return { result: 'correct', remaining: Number(left.n) }
}
