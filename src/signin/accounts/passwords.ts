import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2'

/**
 * OWASP Password Storage Cheat Sheet, first Argon2id row (docs/security.md, "password storage").
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

/** Thrown when too many hashes are already waiting: the request is refused at once (503). */
export class HashingBusyError extends Error {
  readonly status = 503
  constructor() {
    super('Too many password hashes waiting')
  }
}

/**
 * Each hash takes 19 MiB and tens of milliseconds of a core. Unbounded, a burst of
 * sign-ins queues hundreds of them on libuv's pool and every other request (which needs
 * that pool and the cores) waits behind them. So at most `concurrency` run at once,
 * leaving a core for everything else, at most `maxWaiting` wait their turn, and the rest
 * are refused straight away.
 */
class HashingQueue {
  concurrency: number
  maxWaiting: number
  #running = 0
  #waiting: Array<() => void> = []

  constructor(concurrency: number, maxWaiting: number) {
    this.concurrency = concurrency
    this.maxWaiting = maxWaiting
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running < this.concurrency) {
      this.#running++
    } else {
      if (this.#waiting.length >= this.maxWaiting) throw new HashingBusyError()
      // The slot is handed over by the hash that finishes, so #running stays as it is.
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
    }
    try {
      return await work()
    } finally {
      const next = this.#waiting.shift()
      if (next) next()
      else this.#running--
    }
  }

  get running(): number { return this.#running }
  get waiting(): number { return this.#waiting.length }
}

export const defaultHashing = {
  concurrency: Math.max(1, availableParallelism() - 1),
  maxWaiting: 100
}

const hashing = new HashingQueue(defaultHashing.concurrency, defaultHashing.maxWaiting)

/** Sets this process's bound on concurrent hashing (PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE). */
export function limitPasswordHashing(limits: { concurrency: number, maxWaiting: number }): void {
  hashing.concurrency = Math.max(1, limits.concurrency)
  hashing.maxWaiting = Math.max(0, limits.maxWaiting)
}

/** How many hashes are running and waiting in this process now. */
export function passwordHashingLoad(): { running: number, waiting: number } {
  return { running: hashing.running, waiting: hashing.waiting }
}

export async function hashPassword(password: string): Promise<string> {
  // The library draws a fresh 16-byte salt from the OS CSPRNG for every call.
  return hashing.run(() => argon2Hash(normalise(password), hashOptions))
}

/** False, never an exception, for a hash that is not a readable PHC string. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  return hashing.run(async () => {
    try {
      return await argon2Verify(hash, normalise(password))
    } catch {
      return false
    }
  })
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
 * (docs/security.md, "enumeration"). The dummy hash is of a random secret nobody knows,
 * so the result is meaningless and thrown away.
 */
export async function spendOneHash(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64url')).catch((error: unknown) => {
    // Let a later call try again rather than keep a failed promise forever.
    dummyHash = undefined
    throw error
  })
  await verifyPassword(await dummyHash, password)
}
