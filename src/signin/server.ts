import express from 'express'
import type { Kysely } from 'kysely'
import { systemClock } from '../platform/clock.ts'
import { describeLocation, migrate, openDatabase } from '../platform/database.ts'
import { databaseChecks, Readiness, redisCheck, waitForMigrations } from '../platform/health.ts'
import { createLogger } from '../platform/logger.ts'
import { serveMetrics, ServiceMetrics } from '../platform/metrics.ts'
import { observeRequests } from '../platform/request-log.ts'
import { requireSupportEmail } from '../platform/service-info.ts'
import { listen, startBackgroundWork, startingApp, type StartOptions as ServiceStartOptions } from '../platform/runtime.ts'
import { commonPasswordCount } from './accounts/common-passwords.ts'
import { limitPasswordHashing, spendOneHash } from './accounts/passwords.ts'
import { SignInThrottle } from './accounts/sign-in-throttle.ts'
import { buildSigninApp, createSigninViews, serveSigninAssets } from './app.ts'
import type { SigninConfig } from './config.ts'
import type { SigninContext } from './context.ts'
import { signinMigrations } from './database/migrations.ts'
import type { SigninDatabase } from './database/schema.ts'
import { adapterFactory } from './provider/adapters.ts'
import { instanceSecret } from './provider/keys.ts'
import { LiveProvider } from './provider/live-provider.ts'
import { answerOutagesWithUnavailable } from './provider/outages.ts'
import { createProvider, providerRouteFamily } from './provider/provider.ts'
import { signinMetrics } from './metrics.ts'

export interface RunningSignin {
  url: string
  /** Where this node's Prometheus metrics are, when `SIGNIN_METRICS_PORT` is set. */
  metricsUrl: string | undefined
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
 * The port is bound before the keys are read, so with port 0 (tests) the issuer carries
 * the real port; until ready it answers 503.
 */
export async function startSignin(config: SigninConfig, options: StartOptions = {}): Promise<RunningSignin> {
  const clock = options.clock ?? systemClock
  const progress = options.progress ?? (() => {})
  // Pay one-off costs at start-up, not in a person's request: the password list loads,
  // and the dummy hash that unknown-email sign-ins verify against is made.
  progress('loading the list of common passwords')
  commonPasswordCount()
  limitPasswordHashing(config.passwordHashing)
  await spendOneHash('')
  const log = options.log ?? createLogger('signin')
  requireSupportEmail(config.info, 'SIGNIN')
  progress(`opening the database (${describeLocation(config.database)})`)
  const db = options.db ?? await openDatabase<SigninDatabase>(config.database, { connectTimeoutMs: config.databaseConnectTimeoutMs })
  if (config.environment !== 'production' || options.db) {
    progress('applying database migrations')
    await migrate(db as Kysely<unknown>, signinMigrations)
  }
  await options.beforeListen?.(db)

  const metrics = new ServiceMetrics({ db: db as unknown as Kysely<never>, clock, log, processMetrics: config.metrics.port !== undefined })
  signinMetrics(metrics.registry)
  const observe = observeRequests({ log, metrics, routeFamily: providerRouteFamily })
  const web = await listen(config.port, options.host ?? '127.0.0.1', config.publicUrl, startingApp((app) => { createSigninViews(app, config); serveSigninAssets(app) }), observe)
  const metricsServer = config.metrics.port === undefined ? undefined : await serveMetrics(metrics, config.metrics.port, config.metrics.host)
  const { port, publicUrl } = web
  const runtimeConfig: SigninConfig = { ...config, port, publicUrl }
  const now = clock.now()
  const background = await startBackgroundWork({
    db: db as unknown as Kysely<never>, redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, redisCommandTimeoutMs: config.redisCommandTimeoutMs,
    mail: config.mail, clock, log, progress
  })
  const { store, redis } = background
  await waitForMigrations(db as unknown as Kysely<never>, signinMigrations, { log, progress })
  progress('reading secrets and signing keys (the first start generates them)')
  const cookieKeys = (await instanceSecret(db, 'cookie-keys', now, config.cookieKeys)).split(',')
  const codeKey = Buffer.from(await instanceSecret(db, 'code-key', now, config.codeKey), 'utf8')
  const app = express()
  const views = createSigninViews(app, config)
  const adapter = adapterFactory(db, clock, redis, config.redisPrefix)
  const liveProvider = await LiveProvider.create({
    db, clock, log,
    build: (jwks) => {
      const provider = createProvider({
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
      // Every provider built, the first and each one after a key change, answers outages with 503.
      answerOutagesWithUnavailable(provider, { app, db: db as unknown as Kysely<never> })
      return provider
    }
  })
  liveProvider.startRefreshing((options.keyRefreshSeconds ?? 60) * 1000)
  const context: SigninContext = {
    config: runtimeConfig, db, store, throttle: new SignInThrottle(store), codeKey, clock, log,
    get provider() { return liveProvider.current }
  }
  buildSigninApp(app, context)
  web.serve(app, new Readiness([...databaseChecks(db as unknown as Kysely<never>, signinMigrations), ...(redis ? [redisCheck(redis)] : [])], { log }))

  return {
    url: publicUrl,
    metricsUrl: metricsServer?.url,
    context,
    refreshKeys: () => liveProvider.refresh(),
    async close() {
      liveProvider.stop()
      // Requests in flight finish (within the grace period) while the outbox worker ends its
      // batch; only then do the connections they use close.
      const [drained] = await Promise.all([web.drain(config.shutdownGraceSeconds * 1000), background.stop()])
      if (drained.cut > 0) log.warn({ cut: drained.cut }, 'requests still running at the end of the grace period were cut')
      background.disconnect()
      await metricsServer?.close()
      if (!options.db) await db.destroy()
    }
  }
}
