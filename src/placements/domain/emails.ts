import type { Email } from '../../platform/mail/outbox.ts'

/** What Placements tells people by email. Links are absolute. */
export interface PlacementsEmailContext {
  serviceName: string
  publicUrl: string
  identityProviderName: string
  /** Where people get help (PLACEMENTS_SUPPORT_EMAIL), and how soon they hear back. */
  support: { email: string, responseTime: string }
}

function getHelp(c: PlacementsEmailContext): string {
  return `If you need help, email ${c.support.email}. ${c.support.responseTime}`
}

export function signInLink(c: PlacementsEmailContext, email: string): string {
  return `${c.publicUrl}/sign-in?login_hint=${encodeURIComponent(email)}`
}

export function invitation(to: { email: string, givenName: string }, organisationName: string, c: PlacementsEmailContext): Email {
  return {
    to: to.email,
    subject: `You've been added to ${organisationName} on ${c.serviceName}`,
    body: `Dear ${to.givenName},\n\n` +
      `You've been added to ${organisationName} on ${c.serviceName}. You can now sign in to the service.\n\n` +
      `Sign in using ${c.identityProviderName}:\n\n${signInLink(c, to.email)}\n\n` +
      `You must sign in with this email address (${to.email}).\n\n` +
      `If you do not have a ${c.identityProviderName} account yet, choose "Create an account" on the sign-in page and use this email address. ` +
      `Once you've confirmed your email address and created a password, you'll go straight to ${c.serviceName}.\n\n` +
      `If you were not expecting this email, you can ignore it.\n\n` + getHelp(c)
  }
}

export function supportInvitation(to: { email: string, givenName: string }, c: PlacementsEmailContext): Email {
  return {
    to: to.email,
    subject: `You've been added as a support user on ${c.serviceName}`,
    body: `Dear ${to.givenName},\n\n` +
      `You've been added as a support user on ${c.serviceName}. You can now manage organisations and their users.\n\n` +
      `Sign in using ${c.identityProviderName}:\n\n${signInLink(c, to.email)}\n\n` +
      `You must sign in with this email address (${to.email}). If you do not have a ${c.identityProviderName} account yet, choose "Create an account" on the sign-in page.\n\n` + getHelp(c)
  }
}

export function removal(to: { email: string, givenName: string }, organisationName: string, c: PlacementsEmailContext): Email {
  return {
    to: to.email,
    subject: `You've been removed from ${organisationName} on ${c.serviceName}`,
    body: `Dear ${to.givenName},\n\n` +
      `You've been removed from ${organisationName} on ${c.serviceName}. You can no longer manage placements for ${organisationName}.\n\n` +
      `If you think this is a mistake, contact someone at ${organisationName} who uses ${c.serviceName}, and ask them to add you again.\n\n${c.publicUrl}/`
  }
}
