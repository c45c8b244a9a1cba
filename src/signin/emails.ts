import type { Email } from '../platform/mail/outbox.ts'

/** What Sign-in tells people by email: what happened, what to do next, and for which service. */
export interface EmailContext {
  signinName: string
  clientName: string
  serviceStartUrl: string | undefined
}

const footer = (c: EmailContext) =>
  `\n\n${c.signinName} is how people sign in to Department for Education services, including ${c.clientName}.`

export function confirmEmailCode(to: string, code: string, expiresInMinutes: number, c: EmailContext): Email {
  return {
    to,
    subject: `${code} is your ${c.signinName} confirmation code`,
    body: `You're creating a ${c.signinName} account to use ${c.clientName}.\n\n` +
      `Your confirmation code is:\n\n${code}\n\n` +
      `Enter it on the "Check your email" page. The code expires in ${expiresInMinutes} minutes.\n\n` +
      `If you did not ask to create an account, you can ignore this email. Nobody can use your address without this code.` + footer(c)
  }
}

export function signInCode(to: string, code: string, expiresInMinutes: number, c: EmailContext): Email {
  return {
    to,
    subject: `${code} is your ${c.signinName} sign-in code`,
    body: `Someone entered the right password for your ${c.signinName} account, to use ${c.clientName}.\n\n` +
      `Your sign-in code is:\n\n${code}\n\n` +
      `Enter it on the "Check your email" page. The code expires in ${expiresInMinutes} minutes.\n\n` +
      `If this was not you, someone else knows your password: do not share this code, and reset your password from the sign-in page ("Forgotten your password?").` + footer(c)
  }
}

export function authenticatorAppAdded(to: string, c: EmailContext): Email {
  return {
    to,
    subject: `An authenticator app was added to your ${c.signinName} account`,
    body: `An authenticator app was set up for your ${c.signinName} account, and 10 new recovery codes were made. ` +
      `Any app or recovery codes you had before no longer work.\n\n` +
      `If you did this, you do not need to do anything.\n\n` +
      `If you did not, someone may know your password and be able to read your email. Reset your password from the sign-in page ("Forgotten your password?"), change your email password, and contact the support team of the service you use.` + footer(c)
  }
}

export function accountAlreadyExists(to: string, signinUrl: string, c: EmailContext): Email {
  return {
    to,
    subject: `You already have a ${c.signinName} account`,
    body: `Someone tried to create a ${c.signinName} account with this email address, to use ${c.clientName}. ` +
      `You already have an account, so no new account was made.\n\n` +
      `If this was you, go back to ${c.clientName} and sign in with this email address and your password` +
      (c.serviceStartUrl ? `:\n\n${c.serviceStartUrl}\n\n` : '.\n\n') +
      `If you have forgotten your password, choose "Forgotten your password?" on the sign-in page.\n\n` +
      `If this was not you, you do not need to do anything. Your account has not changed.\n\n` +
      `Find out more about ${c.signinName}: ${signinUrl}` + footer(c)
  }
}

export function resetPasswordCode(to: string, code: string, expiresInMinutes: number, c: EmailContext): Email {
  return {
    to,
    subject: `${code} is your ${c.signinName} password reset code`,
    body: `Someone asked to reset the password for the ${c.signinName} account with this email address, to use ${c.clientName}.\n\n` +
      `Your code is:\n\n${code}\n\nThe code expires in ${expiresInMinutes} minutes.\n\n` +
      `If this was not you, you can ignore this email. Your password has not changed.` + footer(c)
  }
}

export function passwordChanged(to: string, c: EmailContext): Email {
  return {
    to,
    subject: `Your ${c.signinName} password has been changed`,
    body: `The password for your ${c.signinName} account was changed.\n\n` +
      `If you did this, you do not need to do anything.\n\n` +
      `If you did not change your password, reset it now from the sign-in page ("Forgotten your password?") and contact the support team of the service you use.` + footer(c)
  }
}

/** For changes made in "Your account": no service is involved, so the footer names none. */
export interface AccountEmailContext {
  signinName: string
}

const accountFooter = (c: AccountEmailContext) =>
  `\n\n${c.signinName} is how people sign in to Department for Education services.`

const notYou =
  `If you did not, someone else may be signed in to your account. Reset your password from the sign-in page ("Forgotten your password?") and contact the support team of the service you use.`

export function nameChanged(to: string, newName: string, c: AccountEmailContext): Email {
  return {
    to,
    subject: `The name on your ${c.signinName} account has been changed`,
    body: `The name on your ${c.signinName} account was changed to ${newName}.\n\n` +
      `If you did this, you do not need to do anything.\n\n` + notYou + accountFooter(c)
  }
}

export function passwordChangedInAccount(to: string, c: AccountEmailContext): Email {
  return {
    to,
    subject: `Your ${c.signinName} password has been changed`,
    body: `The password for your ${c.signinName} account was changed from "Your account". ` +
      `You have been signed out on every other device and of every service you were using.\n\n` +
      `If you did this, you do not need to do anything.\n\n` + notYou + accountFooter(c)
  }
}

export function accountChangeCode(to: string, code: string, expiresInMinutes: number, c: AccountEmailContext): Email {
  return {
    to,
    subject: `${code} is your ${c.signinName} code to change your account`,
    body: `Someone entered the right password for your ${c.signinName} account, to make a change in "Your account".\n\n` +
      `Your code is:\n\n${code}\n\n` +
      `Enter it on the "Check your email" page. The code expires in ${expiresInMinutes} minutes.\n\n` +
      `If this was not you, someone else knows your password: do not share this code, and reset your password from the sign-in page ("Forgotten your password?").` + accountFooter(c)
  }
}

export function changeEmailCode(to: string, code: string, expiresInMinutes: number, c: AccountEmailContext): Email {
  return {
    to,
    subject: `${code} is your ${c.signinName} code to confirm your new email address`,
    body: `Someone asked to use this email address for their ${c.signinName} account.\n\n` +
      `Your code is:\n\n${code}\n\n` +
      `Enter it on the "Check your email" page. The code expires in ${expiresInMinutes} minutes.\n\n` +
      `If you did not ask for this, you can ignore this email. Nobody can use your address without this code.` + accountFooter(c)
  }
}

/** To an address that already has an account, when another account asked to change to it: no code, nothing changed. */
export function emailChangeToExistingAddress(to: string, c: AccountEmailContext): Email {
  return {
    to,
    subject: `Someone tried to use your email address for another ${c.signinName} account`,
    body: `Someone asked to change the email address of a ${c.signinName} account to this address. ` +
      `You already have an account with this address, so nothing was changed and no code was sent.\n\n` +
      `If this was you, sign in with this address instead. You do not need 2 accounts.\n\n` +
      `If this was not you, you do not need to do anything. Your account has not changed.` + accountFooter(c)
  }
}

/** To the old address, once the change is made: if it was not the person, they can act. */
export function emailAddressChanged(to: string, newEmail: string, c: AccountEmailContext): Email {
  return {
    to,
    subject: `The email address of your ${c.signinName} account has been changed`,
    body: `The email address of your ${c.signinName} account was changed to ${newEmail}. ` +
      `We will not send emails to this address any more, and you now sign in with the new one.\n\n` +
      `If you did this, you do not need to do anything.\n\n` +
      `If you did not, someone else may have your password: contact the support team of the service you use straight away.` + accountFooter(c)
  }
}

/** To the account's address after a change to how the person signs in, made in "Your account". */
export function secondFactorChanged(to: string, what: string, c: AccountEmailContext): Email {
  return {
    to,
    subject: `How you sign in to ${c.signinName} has changed`,
    body: `${what}\n\n` +
      `If you did this, you do not need to do anything.\n\n` + notYou + accountFooter(c)
  }
}
