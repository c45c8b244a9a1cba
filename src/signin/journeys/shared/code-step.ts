import type { Request } from 'express'
import { normaliseCodeInput } from '../../accounts/six-digit-codes.ts'
import type { CheckResult } from '../../accounts/emailed-codes.ts'
import type { SigninContext } from '../../context.ts'
import type { EmailContext } from '../../emails.ts'

/** Messages for the "enter the code" pages (confirm email, reset password). */
export const codeMessages = {
  missing: 'Enter the code',
  format: 'Enter the code using only 6 digits',
  incorrect: 'The code you entered is not correct. Check the email and try again, or request a new code',
  expired: 'The code has expired. Request a new code',
  'too-many-attempts': "You've entered the wrong code too many times. Request a new code",
  limited: (minutes: number) => `You've asked for too many codes. Wait ${minutes} ${minutes === 1 ? 'minute' : 'minutes'} and try again`
}

export function codeInputProblem(raw: string): { code?: string, problem?: string } {
  if (raw.trim() === '') return { problem: codeMessages.missing }
  const code = normaliseCodeInput(raw.slice(0, 50))
  return code ? { code } : { problem: codeMessages.format }
}

export function checkResultProblem(result: CheckResult): string | undefined {
  return result === 'correct' ? undefined : codeMessages[result]
}

export function emailContext(context: SigninContext, req: Request): EmailContext {
  return { signinName: context.config.serviceName, clientName: req.signin.client.name, serviceStartUrl: req.signin.client.startUrl }
}

export function minutesUntil(date: Date, now: Date): number {
  return Math.round((date.getTime() - now.getTime()) / 60_000)
}
