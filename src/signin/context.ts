import type { Kysely } from 'kysely'
import type Provider from 'oidc-provider'
import type { Clock } from '../platform/clock.ts'
import type { Logger } from '../platform/logger.ts'
import type { ShortLivedStore } from '../platform/short-lived-store.ts'
import type { SignInThrottle } from './accounts/sign-in-throttle.ts'
import type { SigninConfig } from './config.ts'
import type { SigninDatabase } from './database/schema.ts'

/** Everything a Sign-in request handler may use, built once at start-up. */
export interface SigninContext {
  config: SigninConfig
  db: Kysely<SigninDatabase>
  /** The OpenID Provider as it is now: rebuilt when the signing keys change, so read it per request and never keep it. */
  readonly provider: Provider
  store: ShortLivedStore
  throttle: SignInThrottle
  /** Keys the HMAC that stores verification codes. */
  codeKey: Buffer
  clock: Clock
  log: Logger
}
