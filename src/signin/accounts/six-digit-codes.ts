import { createHmac, randomInt, timingSafeEqual } from 'node:crypto'

/**
 * A six-digit one-time code itself: made from the CSPRNG, stored only as a keyed hash,
 * read from what a person typed, and compared in constant time. Used by the emailed codes
 * (emailed-codes.ts), its keyed hash also by the recovery codes; no storage here.
 */
const codeDigits = 6

/** 6 digits from the CSPRNG (NIST SP 800-63B-4 §3.1.3), leading zeros kept. */
export function generateCode(): string {
  return randomInt(0, 10 ** codeDigits).toString().padStart(codeDigits, '0')
}

/**
 * A million possible codes means a stolen table of bare SHA-256 hashes would be
 * reversed in milliseconds; with a secret key the table alone is useless.
 */
export function hashCode(code: string, key: Buffer): string {
  return createHmac('sha256', key).update(code, 'utf8').digest('hex')
}

// Generous: a pasted code with spaces or dashes between every digit is still short.
const maxCodeInputLength = 64
// Hyphen-minus plus the dashes and minus sign that copying from an email can produce.
const separators = /[\s\-\u2010-\u2015\u2212]/gu
const sixAsciiDigits = /^[0-9]{6}$/

/** What the person typed, minus spaces and dashes; undefined unless that leaves exactly 6 digits. */
export function normaliseCodeInput(raw: string): string | undefined {
  if (raw.length > maxCodeInputLength) return undefined
  const code = raw.replace(separators, '')
  return sixAsciiDigits.test(code) ? code : undefined
}

/**
 * Compared as text, not decoded hex: Buffer.from(x, 'hex') stops at the first bad
 * character, so two different malformed strings could decode to the same bytes.
 */
export function codesMatch(hashA: string, hashB: string): boolean {
  const a = Buffer.from(hashA, 'utf8')
  const b = Buffer.from(hashB, 'utf8')
  if (a.length === 0 || a.length !== b.length) return false
  return timingSafeEqual(a, b)
}
