import path from 'node:path'
import { integer, readCommonConfig, readMetricsSettings, requiredInProduction, type CommonConfig, type MetricsSettings } from '../platform/config.ts'
import type { DatabaseLocation } from '../platform/database.ts'
import type { MailConfig } from '../platform/mail/delivery.ts'
import { readServiceInfo, type ServiceInfo } from '../platform/service-info.ts'
import { defaultHashing } from './accounts/passwords.ts'

export interface SigninConfig extends CommonConfig {
  port: number
  /** The issuer: the public https URL people and services reach us at. */
  publicUrl: string
  serviceName: string
  database: DatabaseLocation
  mail: MailConfig
  /** Comma-separated cookie signing keys (newest first); generated and stored when absent. */
  cookieKeys: string | undefined
  codeKey: string | undefined
  /** Behind a TLS-terminating proxy: trust X-Forwarded-Proto / -For. */
  trustProxy: boolean
  /** Key prefix in Redis, so several deployments (or test runs) can share one server. */
  redisPrefix: string
  /** Prometheus metrics on a port of their own (docs/operations.md, "Metrics"). */
  metrics: MetricsSettings
  /** Per process: password hashes run at once, and waiting before new ones are refused. */
  passwordHashing: { concurrency: number, maxWaiting: number }
  /** Support address and response time, and the organisation's text for the legal pages. */
  info: ServiceInfo
}

export function readSigninConfig(env: NodeJS.ProcessEnv = process.env): SigninConfig {
  const common = readCommonConfig(env)
  const port = integer(env.SIGNIN_PORT, 3001, 'SIGNIN_PORT')
  const databaseUrl = env.SIGNIN_DATABASE_URL
  const publicUrl = requiredInProduction(env, 'SIGNIN_URL', `http://localhost:${port}`).replace(/\/$/, '')
  const trustProxy = env.TRUST_PROXY === 'true'
  // Sign-in never terminates TLS itself: an https address means a proxy in front, and
  // without trusting its X-Forwarded-Proto no request could be given a Secure cookie.
  if (publicUrl.startsWith('https:') && !trustProxy) {
    throw new Error('SIGNIN_URL is https, so Sign-in must run behind a TLS-terminating proxy: set TRUST_PROXY=true, and have the proxy send X-Forwarded-Proto')
  }
  return {
    ...common,
    port,
    publicUrl,
    serviceName: env.SIGNIN_SERVICE_NAME ?? 'DfE Sign-in',
    database: databaseUrl ? { url: databaseUrl } : { directory: path.join(common.dataDirectory, 'signin') },
    mail: {
      notifyApiKey: env.SIGNIN_NOTIFY_API_KEY ?? env.NOTIFY_API_KEY,
      notifyTemplateId: env.SIGNIN_NOTIFY_TEMPLATE_ID ?? env.NOTIFY_TEMPLATE_ID,
      smtpUrl: env.SMTP_URL,
      from: env.MAIL_FROM
    },
    cookieKeys: env.SIGNIN_COOKIE_KEYS,
    codeKey: env.SIGNIN_CODE_KEY,
    trustProxy,
    redisPrefix: env.SIGNIN_REDIS_PREFIX ?? 'signin:',
    metrics: readMetricsSettings(env, 'SIGNIN'),
    passwordHashing: {
      concurrency: integer(env.PASSWORD_HASH_CONCURRENCY, defaultHashing.concurrency, 'PASSWORD_HASH_CONCURRENCY'),
      maxWaiting: integer(env.PASSWORD_HASH_QUEUE, defaultHashing.maxWaiting, 'PASSWORD_HASH_QUEUE')
    },
    info: readServiceInfo(env, 'SIGNIN', 'signin-support@example.com')
  }
}
