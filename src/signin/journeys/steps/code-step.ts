import type { Request, Response } from 'express'
import { emailProblem, field } from '../../../platform/validation.ts'
import { renderFormErrors } from '../../../platform/views.ts'
import type { CodeSent } from '../../accounts/code-actions.ts'
import type { CheckResult } from '../../accounts/emailed-codes.ts'
import { normaliseCodeInput } from '../../accounts/six-digit-codes.ts'

/**
 * The emailed-code steps, written once for every page that sends or asks for an emailed code:
 * creating an account, a forgotten password, the second factor at sign-in, changing the email
 * address and signing in again in "Your account". The verbs behind them (accounts/
 * code-actions.ts) count, audit and email; these steps read the form and answer.
 */
export const codeMessages = {
  missing: 'Enter the code',
  format: 'Enter the code using only 6 digits',
  incorrect: 'The code you entered is not correct. Check the email and try again, or request a new code',
  expired: 'The code has expired. Request a new code',
  'too-many-attempts': "You've entered the wrong code too many times. Request a new code",
  limited: (minutes: number) => `You've asked for too many codes. Wait ${minutes} ${minutes === 1 ? 'minute' : 'minutes'} and try again`
}

/** A typed six-digit code (spaces and dashes allowed), or what is wrong with it. Also read for authenticator apps. */
export function codeInputProblem(raw: string): { code?: string, problem?: string } {
  if (raw.trim() === '') return { problem: codeMessages.missing }
  const code = normaliseCodeInput(raw.slice(0, 50))
  return code ? { code } : { problem: codeMessages.format }
}

export function checkResultProblem(result: CheckResult): string | undefined {
  return result === 'correct' ? undefined : codeMessages[result]
}

/**
 * "Enter the code we emailed you": reads what was typed and, when it could be a code, has
 * `check` (a verb, which audits) check it. True when it was right; otherwise the page is
 * shown again with why, and with what was typed, so a slip can be corrected rather than retyped.
 */
export async function enterEmailedCode(req: Request, res: Response, view: string, shown: Record<string, unknown>, check: (code: string) => Promise<CheckResult>): Promise<boolean> {
  const typed = field(req, 'code')
  const page = { ...shown, values: { code: typed.slice(0, 50) } }
  const input = codeInputProblem(typed)
  const problem = input.problem ?? checkResultProblem(await check(input.code!))
  if (problem) renderFormErrors(res, view, { code: problem }, page)
  return problem === undefined
}

/**
 * Sends an emailed code with `send` (a verb). True when it went; when the address has had
 * too many codes, false, and `view` is shown again with the wait under `fieldName` (429).
 */
export async function sendCodeOrShowLimit(res: Response, send: () => Promise<CodeSent>, view: string, fieldName: string, shown: Record<string, unknown>): Promise<boolean> {
  const sent = await send()
  if (sent.limitedMinutes) renderFormErrors(res, view, { [fieldName]: codeMessages.limited(sent.limitedMinutes) }, shown, 429)
  return !sent.limitedMinutes
}

/**
 * A page that asks for an email address and sends a code to it (`send`, a verb): the
 * address when the code went; otherwise undefined, and the page again with what is wrong.
 */
export async function emailForCode(req: Request, res: Response, view: string, send: (email: string) => Promise<CodeSent>): Promise<string | undefined> {
  const email = field(req, 'email').trim()
  const shown = { values: { email } }
  const problem = emailProblem(email)
  if (!problem) return await sendCodeOrShowLimit(res, () => send(email), view, 'email', shown) ? email : undefined
  renderFormErrors(res, view, { email: problem }, shown)
  return undefined
}
