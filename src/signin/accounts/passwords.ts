import { randomBytes } from 'node:crypto'
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2'

/**
 * OWASP Password Storage Cheat Sheet, first Argon2id row (security.md, "password storage").
 * The parameters travel inside each PHC string, so raising them later only needs
 * `needsRehash` on the next successful sign-in.
 */
// Frozen: a stray assignment elsewhere would silently weaken every new hash.
export const argon2Parameters = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 })

// Algorithm is an ambient const enum, which erasable-syntax TypeScript cannot read,
// so the value is spelt out; the annotation still checks it is a member.
const argon2id: Algorithm = 2
const hashOptions = { ...argon2Parameters, algorithm: argon2id }

/**
 * NIST SP 800-63B-4 §3.1.1.2: the same password typed on two devices can arrive
 * composed or decomposed (é as one code point or two); NFKC makes both hash alike.
 * Every function that feeds a password to argon2 must go through this.
 */
function normalise(password: string): string {
  return password.normalize('NFKC')
}

export async function hashPassword(password: string): Promise<string> {
  // The library draws a fresh 16-byte salt from the OS CSPRNG for every call.
  return argon2Hash(normalise(password), hashOptions)
}

/** False, never an exception, for a hash that is not a readable PHC string. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2Verify(hash, normalise(password))
  } catch {
    return false
  }
}

const phcPattern = /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/

/** Version 0x13 (19) is current; 0x10 hashes predate a fix to the memory filling. */
const currentVersion = 19

export function needsRehash(hash: string): boolean {
  const match = phcPattern.exec(hash)
  if (!match) return true
  const [, algorithm, version, memoryCost, timeCost, parallelism] = match
  return algorithm !== 'argon2id' ||
    Number(version) !== currentVersion ||
    Number(memoryCost) < argon2Parameters.memoryCost ||
    Number(timeCost) < argon2Parameters.timeCost ||
    Number(parallelism) < argon2Parameters.parallelism
}

let dummyHash: Promise<string> | undefined

/**
 * For a sign-in with an unknown email address: do the same argon2 work a real
 * check would, so the response time does not say whether the account exists
 * (security.md, "enumeration"). The dummy hash is of a random secret nobody knows,
 * so the result is meaningless and thrown away.
 */
export async function spendOneHash(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64url'))
  try {
    await verifyPassword(await dummyHash, password)
  } catch {
    // Let a later call try again rather than keep a failed promise forever.
    dummyHash = undefined
  }
}
