import type { Email } from '../platform/mail/outbox.ts'
import type { AccountEmailContext } from './emails.ts'

/** What Sign-in tells people when a passkey is added to or removed from their account (ADR 12). */
const footer = (c: AccountEmailContext) =>
  `\n\n${c.signinName} is how people sign in to Department for Education services.`

const notYou = `If you did not, someone else may be signed in to your account. Reset your password from the sign-in page ("Forgotten your password?"), change your email password, and contact the support team of the service you use.`

export function passkeyAdded(to: string, name: string, withRecoveryCodes: boolean, c: AccountEmailContext): Email {
  return {
    to,
    subject: `A passkey was added to your ${c.signinName} account`,
    body: `A passkey called "${name}" was added to your ${c.signinName} account.` +
      (withRecoveryCodes ? ` 10 recovery codes were made with it.` : '') + `\n\n` +
      `If you did this, you do not need to do anything.\n\n` + notYou + footer(c)
  }
}

export function passkeyRemoved(to: string, name: string, c: AccountEmailContext): Email {
  return {
    to,
    subject: `A passkey was removed from your ${c.signinName} account`,
    body: `The passkey called "${name}" was removed from your ${c.signinName} account. It can no longer be used to sign in.\n\n` +
      `If you did this, you do not need to do anything.\n\n` + notYou + footer(c)
  }
}
