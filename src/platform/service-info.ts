import { readEnvironment } from './config.ts'

/**
 * How a person gets help, and the organisation behind a service: shown on the start page,
 * error pages, emails, the footer and the legal pages (issue 8). Each service has its own
 * support address (`SIGNIN_SUPPORT_EMAIL`, `PLACEMENTS_SUPPORT_EMAIL`, or `SUPPORT_EMAIL`
 * for both); production refuses to start without one, because every page promises help.
 */
export interface SupportDetails {
  email: string
  /** A sentence: "We aim to respond within 2 working days." */
  responseTime: string
}

/** Organisation-specific text for the legal pages; defaults are the Department for Education's. */
export interface OrganisationDetails {
  /** Who runs the service and is the data controller. */
  name: string
  /** Where people ask about their data (the data protection officer). */
  dataProtectionEmail: string
  /** The accessibility statement's dates, in words ("1 December 2026"). */
  accessibilityStatementPrepared: string
  accessibilityLastTested: string
}

export interface ServiceInfo {
  support: SupportDetails
  organisation: OrganisationDetails
}

export const defaultResponseTime = 'We aim to respond within 2 working days.'

/** At start-up: a service that tells people to email support must have somewhere to send them. */
export function requireSupportEmail(info: ServiceInfo, prefix: 'SIGNIN' | 'PLACEMENTS'): void {
  if (!info.support.email) throw new Error(`${prefix}_SUPPORT_EMAIL (or SUPPORT_EMAIL) must be set in production: every page tells people to email support there`)
}

export function readServiceInfo(env: NodeJS.ProcessEnv, prefix: 'SIGNIN' | 'PLACEMENTS', developmentEmail: string): ServiceInfo {
  const name = `${prefix}_SUPPORT_EMAIL`
  // Production leaves it empty when unset, and the service refuses to start (`requireSupportEmail`);
  // commands such as `npm run migrate` read the same settings and do not need it.
  const email = env[name] || env.SUPPORT_EMAIL || (readEnvironment(env) === 'production' ? '' : developmentEmail)
  if (email && !/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(email)) throw new Error(`${name} must be an email address, not "${email}"`)
  return {
    support: {
      email,
      responseTime: env[`${prefix}_SUPPORT_RESPONSE_TIME`] || env.SUPPORT_RESPONSE_TIME || defaultResponseTime
    },
    organisation: {
      name: env.ORGANISATION_NAME || 'Department for Education',
      dataProtectionEmail: env.DATA_PROTECTION_EMAIL || 'dataprotection@education.gov.uk',
      accessibilityStatementPrepared: env.ACCESSIBILITY_STATEMENT_PREPARED || '1 December 2026',
      accessibilityLastTested: env.ACCESSIBILITY_LAST_TESTED || '1 December 2026'
    }
  }
}
