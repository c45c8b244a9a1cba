import { isCommonPassword } from './common-passwords.ts'

/**
 * New-password rules from NIST SP 800-63B-4 §3.1.1.2 and the NCSC password guidance
 * (docs/security.md, "password policy"): a length floor and ceiling counted in Unicode code
 * points, no truncation, no composition rules, and a blocklist of common, breached or
 * easily guessed passwords and of the person's own email address or name.
 */
export const minPasswordCodePoints = 15
export const maxPasswordCodePoints = 256

export type PasswordProblem =
  | 'missing'
  | 'too-short'
  | 'too-long'
  | 'too-common'
  | 'contains-personal'
  | 'confirmation-missing'
  | 'mismatch'

export const passwordMessages: Record<PasswordProblem, string> = {
  'missing': 'Enter a password',
  'too-short': `Password must be ${minPasswordCodePoints} characters or more`,
  'too-long': `Password must be ${maxPasswordCodePoints} characters or fewer`,
  'too-common': 'Enter a password that is harder to guess. This password is on a list of passwords that are often used or have been leaked',
  'contains-personal': 'Password must not contain your email address or name',
  'confirmation-missing': 'Confirm your password',
  'mismatch': 'Passwords do not match'
}

export const passwordRules: readonly string[] = [
  `Your password must be at least ${minPasswordCodePoints} characters long`,
  `It can be up to ${maxPasswordCodePoints} characters`,
  'You can use a long phrase of several words that are easy for you to remember',
  'It must not contain your name or email address',
  'It must not be a common password'
]

export type NewPasswordInput = {
  password: string
  confirmation: string
  email: string
  givenName?: string
  familyName?: string
}

export type PasswordProblems = { password?: PasswordProblem, confirmPassword?: PasswordProblem }

export function passwordProblems(input: NewPasswordInput): PasswordProblems {
  const problem = passwordProblem(input)
  if (problem) return { password: problem }
  if (input.confirmation === '') return { confirmPassword: 'confirmation-missing' }
  if (input.confirmation !== input.password) return { confirmPassword: 'mismatch' }
  return {}
}

function passwordProblem(input: NewPasswordInput): PasswordProblem | undefined {
  const { password } = input
  if (password === '') return 'missing'
  // Code points, not UTF-16 units: an emoji is one character to the person typing it.
  const length = [...password].length
  if (length < minPasswordCodePoints) return 'too-short'
  if (length > maxPasswordCodePoints) return 'too-long'
  // Checked before the list so someone who used their own name is told why.
  if (containsPersonalDetails(input)) return 'contains-personal'
  if (isEasilyGuessed(password)) return 'too-common'
  return undefined
}

/**
 * Same folding for both sides of every comparison: NFKC so full-width and
 * decomposed forms match their plain spelling, then lower case.
 */
function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase()
}

const whitespace = /\s+/gu

function withoutWhitespace(text: string): string {
  return text.replace(whitespace, '')
}

function containsPersonalDetails(input: NewPasswordInput): boolean {
  const password = fold(input.password)
  const passwordForms = unique([password, withoutWhitespace(password)])
  const email = fold(input.email).trim()
  const at = email.lastIndexOf('@')
  const localPart = at === -1 ? email : email.slice(0, at)
  const needles: string[] = []
  if (email) needles.push(email)
  if (codePoints(localPart) >= 4) needles.push(localPart)
  for (const name of [input.givenName, input.familyName]) {
    const folded = fold(name ?? '').trim()
    // "Mary Ann", "O'Brien", "Smith-Jones" are often typed run together.
    for (const form of unique([folded, folded.replace(/[\s'’-]+/gu, '')])) {
      if (codePoints(form) >= 3) needles.push(form)
    }
  }
  return needles.some(needle => passwordForms.some(form => form.includes(needle)))
}

/**
 * "Commonly used, expected or compromised" (NIST): on the list as typed, or one of
 * the variations people reach for when a listed password is too short - digits or
 * symbols added before or after, letters swapped for look-alike symbols, a character
 * or chunk repeated, a straight run along the alphabet, digits or keyboard.
 */
export function isEasilyGuessed(password: string): boolean {
  const folded = fold(password)
  for (const form of unique([folded, withoutWhitespace(folded)])) {
    if (form === '') continue
    if (isListed(form) || isSequence(form) || isRepetition(form)) return true
    for (const core of cores(form)) {
      if (isListed(core)) return true
      if (codePoints(core) >= minCoreCodePoints && (isSequence(core) || isRepetition(core))) return true
    }
  }
  return false
}

// A two- or three-letter run or repeat between random symbols is not a guessable pattern
// (a listed core of any length still is: the affixes are what people add to it).
const minCoreCodePoints = 4

function isListed(text: string): boolean {
  return isCommonPassword(text) || lookAlikeSpellings(text).some(isCommonPassword)
}

const leadingNonLetters = /^[^\p{L}]*/u
const trailingNonLetters = /[^\p{L}]*$/u

/**
 * What is left after taking digits, symbols and spaces off either end:
 * 'password2024!!' -> 'password2024', 'password'. Each end is also cut where the
 * run nearest the word changes between digits, symbols and spaces, so a look-alike
 * digit at the edge of the word survives: 'ch0c0l4t3!!!' -> 'ch0c0l4t3'.
 */
function cores(text: string): string[] {
  const lead = leadingNonLetters.exec(text)![0]
  const trail = trailingNonLetters.exec(text)![0]
  if (lead.length === text.length) return []
  const starts = cutPoints(lead)
  const ends = cutPoints([...trail].reverse().join('')).map(cut => text.length - cut)
  const found: string[] = []
  for (const start of starts) {
    for (const end of ends) {
      const core = text.slice(start, end)
      if (core !== text) found.push(core)
    }
  }
  return unique(found)
}

function characterClass(char: string): string {
  if (/\p{N}/u.test(char)) return 'digit'
  if (/\s/u.test(char)) return 'space'
  return 'symbol'
}

/**
 * 0, the run's full length, and the class change nearest the letters (the last one
 * in the run as given, UTF-16 offset). Only that one: every change would make
 * '1!2@3#...' cost thousands of candidate cores, each checked in full.
 */
function cutPoints(run: string): number[] {
  let nearest: number | undefined
  let offset = 0
  let previous: string | undefined
  for (const char of run) {
    const kind = characterClass(char)
    if (previous !== undefined && kind !== previous) nearest = offset
    previous = kind
    offset += char.length
  }
  return unique([0, ...(nearest === undefined ? [] : [nearest]), run.length])
}

// '1' and '!' stand for 'i' as often as for 'l', so both spellings are tried.
const lookAlikes: readonly Record<string, string>[] = [
  { '@': 'a', '4': 'a', '3': 'e', '1': 'i', '!': 'i', '0': 'o', '$': 's', '5': 's', '7': 't' },
  { '@': 'a', '4': 'a', '3': 'e', '1': 'l', '!': 'l', '0': 'o', '$': 's', '5': 's', '7': 't' }
]

function lookAlikeSpellings(text: string): string[] {
  const spellings = lookAlikes
    .map(table => [...text].map(char => table[char] ?? char).join(''))
    .filter(spelling => spelling !== text)
  return unique(spellings)
}

/**
 * Keyboard rows and columns (QWERTY, AZERTY, QWERTZ), alphabet and digits. Runs wrap
 * round ('7890123') and may be read backwards.
 */
const runs: readonly string[] = [
  'abcdefghijklmnopqrstuvwxyz',
  '0123456789',
  '1234567890qwertyuiopasdfghjklzxcvbnm',
  'qwertyuiop',
  'asdfghjkl',
  'zxcvbnm',
  'azertyuiopqsdfghjklmwxcvbn',
  'qwertzuiopasdfghjklyxcvbnm',
  '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p',
  'qazwsxedcrfvtgbyhnujmikolp',
  'zaq1xsw2cde3vfr4bgt5nhy6mju7ki8lo9p0'
]

function isSequence(text: string): boolean {
  const chars = [...text]
  if (chars.length < 3) return false
  if (hasConstantStep(chars, 1) || hasConstantStep(chars, -1)) return true
  return runs.some(run => {
    const times = Math.ceil(chars.length / run.length) + 1
    const forwards = run.repeat(times)
    const backwards = [...forwards].reverse().join('')
    return forwards.includes(text) || backwards.includes(text)
  })
}

// Any alphabet, not just Latin: 'αβγδε…' or 'абвгд…' are as guessable as 'abcde…'.
function hasConstantStep(chars: string[], step: number): boolean {
  for (let i = 1; i < chars.length; i++) {
    if (chars[i]!.codePointAt(0)! - chars[i - 1]!.codePointAt(0)! !== step) return false
  }
  return true
}

/**
 * The text is a chunk said two or more times (the last copy may be cut short). A chunk
 * shorter than the minimum length leaves less to guess than the minimum is meant to
 * ensure; a longer one still counts when the chunk itself is a listed password.
 */
function isRepetition(text: string): boolean {
  const chars = [...text]
  const period = smallestPeriod(chars)
  if (period === undefined) return false
  if (period < minPasswordCodePoints) return true
  const chunk = chars.slice(0, period).join('')
  return isListed(chunk) || cores(chunk).some(isListed)
}

function smallestPeriod(chars: string[]): number | undefined {
  for (let period = 1; period <= chars.length / 2; period++) {
    let repeats = true
    for (let i = period; i < chars.length && repeats; i++) {
      if (chars[i] !== chars[i - period]) repeats = false
    }
    if (repeats) return period
  }
  return undefined
}

function codePoints(text: string): number {
  return [...text].length
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)]
}
