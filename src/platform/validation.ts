import type { Request } from 'express'
import type { FieldErrors } from './views.ts'

/**
 * Field rules shared by both services' forms. Every value is bounded, control characters
 * are refused, and anything that is not a single string (duplicated fields, missing
 * bodies) reads as empty, so no input can reach a 5xx. `whose` words the "Enter…"
 * message for the person filling in the form ("your"), someone else ("their"), or the
 * person's new address ("your new", when changing it).
 */
export type Whose = 'your' | 'their' | 'your new'

export const limits = { email: 254, name: 100 }

export function field(req: Request, name: string): string {
  const value = (req.body as Record<string, unknown> | undefined)?.[name]
  return typeof value === 'string' ? value : ''
}

/**
 * Characters no single-line field accepts: C0 and C1 controls (NUL, CR, LF, escape…) and
 * the Unicode line and paragraph separators. `multiLine` allows tab, LF and CR, which is
 * what people type into a box of text.
 */
// eslint-disable-next-line no-control-regex
export const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/
// eslint-disable-next-line no-control-regex
export const controlCharactersExceptLineBreaks = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/
const emailShape = /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\.]+(\.[^\s@<>()[\],;:"\\.]+)+$/
const nameShape = /^[\p{L}\p{M}' ’.-]+$/u

export function emailProblem(raw: string, whose: Whose = 'your'): string | undefined {
  const email = raw.trim()
  if (email === '') return `Enter ${whose} email address`
  if (email.length > limits.email) return `Email address must be ${limits.email} characters or fewer`
  if (controlCharacters.test(email) || !emailShape.test(email)) return 'Enter an email address in the correct format, like name@example.com'
  return undefined
}

export function nameProblem(raw: string, label: 'First name' | 'Last name', whose: Whose = 'your'): string | undefined {
  const name = raw.trim()
  if (name === '') return `Enter ${whose} ${label.toLowerCase()}`
  if ([...name].length > limits.name) return `${label} must be ${limits.name} characters or fewer`
  if (controlCharacters.test(name) || !nameShape.test(name)) return `${label} must only include letters a to z, hyphens, spaces and apostrophes`
  return undefined
}

export function collect(entries: Array<[string, string | undefined]>): FieldErrors {
  const errors: FieldErrors = {}
  for (const [name, message] of entries) if (message) errors[name] = message
  return errors
}

export function hasErrors(errors: FieldErrors): boolean {
  return Object.keys(errors).length > 0
}
