import path from 'node:path'
import { integer, readCommonConfig, readMetricsSettings, requiredInProduction, type CommonConfig, type MetricsSettings } from '../platform/config.ts'
import type { DatabaseLocation } from '../platform/database.ts'
import type { MailConfig } from '../platform/mail/delivery.ts'
import { readServiceInfo, type ServiceInfo } from '../platform/service-info.ts'

/**
 * Placements signs people in through any compliant OpenID Provider: our Sign-in in
 * development, the real DfE Sign-in in production. Only these settings differ.
 */
export interface IdentityProviderConfig {
  issuerUrl: string
  clientId: string
  /** client_secret_basic when set... */
  clientSecret: string | undefined
  /** ...or private_key_jwt with this private JWK (JSON). */
  privateKeyJwk: string | undefined
  /** Shown on the start page button: "Sign in using DfE Sign-in". */
  displayName: string
  /** Allow http issuers (development and tests only). */
  allowInsecure: boolean
  /**
   * The one algorithm ID tokens must be signed with (default RS256, what DfE Sign-in
   * uses): `none`, HS256 and anything else are refused, whatever the issuer advertises.
   */
  idTokenSigningAlg: string
  /**
   * The authentication context (`acr`) every sign-in must reach: sent as `acr_values` and
   * checked in the ID token. Undefined (`off`) for a provider that does not say, such as
   * the real DfE Sign-in, which does its own second factor.
   */
  requiredAcr: string | undefined
  /** What support pages need; a support user signed in with less is sent to step up. */
  supportRequiredAcr: string | undefined
}

/**
 * Known acr values, strongest first (OpenID PAPE policies, ADR 10): a sign-in at one
 * meets a requirement for it or anything after it. Any other value must match exactly.
 */
export const acrStrengths = [
  'http://schemas.openid.net/pape/policies/2007/06/phishing-resistant',
  'http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical',
  'http://schemas.openid.net/pape/policies/2007/06/multi-factor'
]

export function acrMeets(achieved: unknown, required: string | undefined): boolean {
  if (required === undefined) return true
  if (typeof achieved !== 'string') return false
  if (achieved === required) return true
  const have = acrStrengths.indexOf(achieved)
  const need = acrStrengths.indexOf(required)
  return have !== -1 && need !== -1 && have <= need
}

function acrSetting(value: string | undefined, name: string, otherwise: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return otherwise
  if (value.trim() === 'off') return undefined
  if (!/^[\x21-\x7e]{1,200}$/.test(value.trim())) throw new Error(`${name} must be an acr value (a URI with no spaces) or "off"`)
  return value.trim()
}

export interface PlacementsConfig extends CommonConfig {
  port: number
  publicUrl: string
  database: DatabaseLocation
  mail: MailConfig
  identityProvider: IdentityProviderConfig
  idleTimeoutSeconds: number
  absoluteTimeoutSeconds: number
  /** Seconds before the idle timeout that the warning dialog appears. */
  warningSeconds: number
  trustProxy: boolean
  redisPrefix: string
  /** Prometheus metrics on a port of their own (docs/operations.md, "Metrics"). */
  metrics: MetricsSettings
  supportEmailDomain: string
  /** Support address and response time, and the organisation's text for the legal pages. */
  info: ServiceInfo
}

export function readPlacementsConfig(env: NodeJS.ProcessEnv = process.env): PlacementsConfig {
  const common = readCommonConfig(env)
  const port = integer(env.PLACEMENTS_PORT, 3000, 'PLACEMENTS_PORT')
  const idleTimeoutSeconds = integer(env.SESSION_IDLE_TIMEOUT_SECONDS, 1200, 'SESSION_IDLE_TIMEOUT_SECONDS')
  const production = common.environment === 'production'
  return {
    ...common,
    port,
    publicUrl: requiredInProduction(env, 'PLACEMENTS_URL', `http://localhost:${port}`).replace(/\/$/, ''),
    database: env.PLACEMENTS_DATABASE_URL ? { url: env.PLACEMENTS_DATABASE_URL } : { directory: path.join(common.dataDirectory, 'placements') },
    mail: {
      notifyApiKey: env.PLACEMENTS_NOTIFY_API_KEY ?? env.NOTIFY_API_KEY,
      notifyTemplateId: env.PLACEMENTS_NOTIFY_TEMPLATE_ID ?? env.NOTIFY_TEMPLATE_ID,
      smtpUrl: env.SMTP_URL,
      from: env.MAIL_FROM
    },
    identityProvider: {
      issuerUrl: requiredInProduction(env, 'OIDC_ISSUER_URL', `http://localhost:${env.SIGNIN_PORT ?? 3001}`),
      clientId: requiredInProduction(env, 'OIDC_CLIENT_ID', env.PLACEMENTS_CLIENT_ID ?? 'manage-school-placements'),
      clientSecret: env.OIDC_CLIENT_SECRET ?? (production ? undefined : env.PLACEMENTS_CLIENT_SECRET ?? 'development-only-placements-client-secret'),
      privateKeyJwk: env.OIDC_PRIVATE_KEY_JWK,
      displayName: env.OIDC_PROVIDER_NAME ?? 'DfE Sign-in',
      allowInsecure: !production && env.OIDC_ALLOW_INSECURE !== 'false',
      idTokenSigningAlg: signingAlgorithm(env.OIDC_ID_TOKEN_SIGNING_ALG),
      requiredAcr: acrSetting(env.OIDC_REQUIRED_ACR, 'OIDC_REQUIRED_ACR', acrStrengths[2]),
      supportRequiredAcr: acrSetting(env.OIDC_SUPPORT_REQUIRED_ACR, 'OIDC_SUPPORT_REQUIRED_ACR', env.OIDC_REQUIRED_ACR?.trim() === 'off' ? undefined : acrStrengths[1])
    },
    idleTimeoutSeconds,
    absoluteTimeoutSeconds: integer(env.SESSION_ABSOLUTE_TIMEOUT_SECONDS, 12 * 3600, 'SESSION_ABSOLUTE_TIMEOUT_SECONDS'),
    warningSeconds: Math.min(integer(env.SESSION_WARNING_SECONDS, 120, 'SESSION_WARNING_SECONDS'), Math.floor(idleTimeoutSeconds / 2)),
    trustProxy: env.TRUST_PROXY === 'true',
    redisPrefix: env.PLACEMENTS_REDIS_PREFIX ?? 'placements:',
    metrics: readMetricsSettings(env, 'PLACEMENTS'),
    supportEmailDomain: env.SUPPORT_EMAIL_DOMAIN ?? 'education.gov.uk',
    info: readServiceInfo(env, 'PLACEMENTS', 'placements-support@example.com')
  }
}

/** Asymmetric algorithms only: a token signed with a shared secret or none proves nothing about who made it. */
const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']

function signingAlgorithm(value: string | undefined): string {
  if (!value) return 'RS256'
  if (!asymmetricAlgorithms.includes(value)) throw new Error(`OIDC_ID_TOKEN_SIGNING_ALG must be one of ${asymmetricAlgorithms.join(', ')}, not "${value}"`)
  return value
}
