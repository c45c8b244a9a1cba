import express from 'express'
import type { Kysely } from 'kysely'
import { systemClock } from '../platform/clock.ts'
import { migrate, openDatabase } from '../platform/database.ts'
import { createLogger } from '../platform/logger.ts'
import { closeServer, listen, startBackgroundWork, type StartOptions as ServiceStartOptions } from '../platform/runtime.ts'
import { commonPasswordCount } from './accounts/common-passwords.ts'
import { limitPasswordHashing, spendOneHash } from './accounts/passwords.ts'
import { SignInThrottle } from './accounts/sign-in-throttle.ts'
import { buildSigninApp, createSigninViews } from './app.ts'
import type { SigninConfig } from './config.ts'
import type { SigninContext } from './context.ts'
import { signinMigrations } from './database/migrations.ts'
import type { SigninDatabase } from './database/schema.ts'
import { adapterFactory } from './provider/adapters.ts'
import { instanceSecret } from './provider/keys.ts'
import { LiveProvider } from './provider/live-provider.ts'
import { createProvider } from './provider/provider.ts'

export interface RunningSignin {
  url: string
  context: SigninContext
  /** Re-reads the signing keys now, as the node does every `keyRefreshSeconds`; true if they changed. */
  refreshKeys(): Promise<boolean>
  close(): Promise<void>
}

export type StartOptions = ServiceStartOptions<SigninDatabase> & {
  /** How often this node re-reads the signing keys, so a key rotated elsewhere reaches it (default 60). */
  keyRefreshSeconds?: number
}

/**
 * Starts Sign-in: database (migrated), keys and secrets, the provider and the web app.
 * The port is bound first, so with port 0 (tests) the issuer carries the real port.
 */
export async function startSignin(config: SigninConfig, options: StartOptions = {}): Promise<RunningSignin> {
  const clock = options.clock ?? systemClock
  // Pay one-off costs at start-up, not in a person's request: the password list loads,
  // and the dummy hash that unknown-email sign-ins verify against is made.
  commonPasswordCount()
  limitPasswordHashing(config.passwordHashing)
  await spendOneHash('')
  const log = createLogger('signin')
  const db = options.db ?? await openDatabase<SigninDatabase>(config.database)
  if (config.environment !== 'production' || options.db) await migrate(db as Kysely<unknown>, signinMigrations)
  await options.beforeListen?.(db)

  const { server, port, publicUrl } = await listen(config.port, options.host ?? '127.0.0.1', config.publicUrl)
  const runtimeConfig: SigninConfig = { ...config, port, publicUrl }
  const now = clock.now()
  const background = startBackgroundWork({ db: db as unknown as Kysely<never>, redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, mail: config.mail, clock, log })
  const { store, redis } = background
  const cookieKeys = (await instanceSecret(db, 'cookie-keys', now, config.cookieKeys)).split(',')
  const codeKey = Buffer.from(await instanceSecret(db, 'code-key', now, config.codeKey), 'utf8')
  const app = express()
  const views = createSigninViews(app, config.serviceName)
  const adapter = adapterFactory(db, clock, redis, config.redisPrefix)
  const liveProvider = await LiveProvider.create({
    db, clock, log,
    build: (jwks) => createProvider({
      issuer: publicUrl,
      db,
      adapter,
      jwks,
      cookieKeys,
      secureCookies: publicUrl.startsWith('https:'),
      trustProxy: config.trustProxy,
      views,
      serviceName: config.serviceName,
      log
    })
  })
  liveProvider.startRefreshing((options.keyRefreshSeconds ?? 60) * 1000)
  const context: SigninContext = {
    config: runtimeConfig, db, store, throttle: new SignInThrottle(store), codeKey, clock, log,
    get provider() { return liveProvider.current }
  }
  buildSigninApp(app, context)
  server.on('request', app)

  return {
    url: publicUrl,
    context,
    refreshKeys: () => liveProvider.refresh(),
    async close() {
      liveProvider.stop()
      background.stop()
      await closeServer(server)
      if (!options.db) await db.destroy()
    }
  }
}
