import type { Kysely } from 'kysely'
import type Provider from 'oidc-provider'
import type { Clock } from '../../platform/clock.ts'
import type { Logger } from '../../platform/logger.ts'
import type { SigninDatabase } from '../database/schema.ts'
import { signingKeys } from './keys.ts'

type Jwk = Record<string, unknown>

/**
 * oidc-provider takes its signing keys when it is built, so a key rotated on one node
 * would reach the others only when they restarted. Instead each node re-reads the active
 * keys now and then and, when they differ from the ones it has, builds a new Provider
 * with the same settings and hands it the next requests (docs/adr/0009). Everything a
 * sign-in under way needs (interactions, sessions, codes, grants) is in the adapter's
 * store, not in the Provider object, so the swap loses nothing.
 */
export class LiveProvider {
  readonly #build: (jwks: Jwk[]) => Provider
  readonly #db: Kysely<SigninDatabase>
  readonly #clock: Clock
  readonly #log: Logger
  #provider: Provider
  #kids: string
  #timer: NodeJS.Timeout | undefined

  private constructor(options: LiveProviderOptions, jwks: Jwk[]) {
    this.#build = options.build
    this.#db = options.db
    this.#clock = options.clock
    this.#log = options.log
    this.#provider = options.build(jwks)
    this.#kids = kidsOf(jwks)
  }

  /** Reads the keys (making the first one on an empty database) and builds the provider. */
  static async create(options: LiveProviderOptions): Promise<LiveProvider> {
    return new LiveProvider(options, await signingKeys(options.db, options.clock.now()))
  }

  /** The provider as it is now: read it for each request, never keep it. */
  get current(): Provider {
    return this.#provider
  }

  /** Re-reads the active keys; rebuilds the provider if they changed. True if it did. */
  async refresh(): Promise<boolean> {
    const jwks = await signingKeys(this.#db, this.#clock.now())
    const kids = kidsOf(jwks)
    if (kids === this.#kids) return false
    this.#provider = this.#build(jwks)
    this.#kids = kids
    this.#log.info({ kids }, 'signing keys changed; provider rebuilt')
    return true
  }

  startRefreshing(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.#log.warn({ err: error }, 'signing keys could not be re-read; keeping the current ones'))
    }, intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}

export interface LiveProviderOptions {
  db: Kysely<SigninDatabase>
  clock: Clock
  log: Logger
  /** Builds a provider with these keys and every other setting unchanged. */
  build: (jwks: Jwk[]) => Provider
}

/** The keys in signing order: a new key, a retired one or a new first key all change it. */
function kidsOf(jwks: Jwk[]): string {
  return jwks.map((jwk) => String(jwk.kid)).join(' ')
}
