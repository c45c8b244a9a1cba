import type { Kysely } from 'kysely'
import { systemClock } from '../platform/clock.ts'
import { describeLocation, migrate, openDatabase } from '../platform/database.ts'
import { databaseChecks, Readiness, redisCheck, waitForMigrations } from '../platform/health.ts'
import { createLogger } from '../platform/logger.ts'
import { serveMetrics, ServiceMetrics } from '../platform/metrics.ts'
import { observeRequests } from '../platform/request-log.ts'
import { requireSupportEmail } from '../platform/service-info.ts'
import { listen, startBackgroundWork, startingApp, type StartOptions as ServiceStartOptions } from '../platform/runtime.ts'
import { buildPlacementsApp, usePlacementsViews } from './app.ts'
import { IdentityProvider } from './auth/identity-provider.ts'
import type { PlacementsConfig } from './config.ts'
import type { PlacementsContext } from './context.ts'
import { placementsMigrations } from './database/migrations.ts'
import type { PlacementsDatabase } from './database/schema.ts'

export interface RunningPlacements {
  url: string
  /** Where this node's Prometheus metrics are, when `PLACEMENTS_METRICS_PORT` is set. */
  metricsUrl: string | undefined
  context: PlacementsContext
  close(): Promise<void>
}

export type StartOptions = ServiceStartOptions<PlacementsDatabase>

/** Starts Placements. With port 0 (tests) the public URL carries the real port; until ready it answers 503. */
export async function startPlacements(config: PlacementsConfig, options: StartOptions = {}): Promise<RunningPlacements> {
  const clock = options.clock ?? systemClock
  const progress = options.progress ?? (() => {})
  const log = options.log ?? createLogger('placements')
  requireSupportEmail(config.info, 'PLACEMENTS')
  progress(`opening the database (${describeLocation(config.database)})`)
  const db = options.db ?? await openDatabase<PlacementsDatabase>(config.database, { connectTimeoutMs: config.databaseConnectTimeoutMs })
  if (config.environment !== 'production' || options.db) {
    progress('applying database migrations')
    await migrate(db as unknown as Kysely<unknown>, placementsMigrations)
  }
  await options.beforeListen?.(db)

  const identityProvider = new IdentityProvider(config.identityProvider)
  const metrics = new ServiceMetrics({ db: db as unknown as Kysely<never>, clock, log, processMetrics: config.metrics.port !== undefined })
  const observe = observeRequests({ log, metrics })
  const web = await listen(config.port, options.host ?? '127.0.0.1', config.publicUrl, startingApp((app) => usePlacementsViews(app, identityProvider, config)), observe)
  const metricsServer = config.metrics.port === undefined ? undefined : await serveMetrics(metrics, config.metrics.port, config.metrics.host)
  const { port, publicUrl } = web
  const runtimeConfig: PlacementsConfig = { ...config, port, publicUrl }
  const background = await startBackgroundWork({
    db: db as unknown as Kysely<never>, redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, redisCommandTimeoutMs: config.redisCommandTimeoutMs,
    mail: config.mail, clock, log, progress
  })
  await waitForMigrations(db as unknown as Kysely<never>, placementsMigrations, { log, progress })
  const context: PlacementsContext = { config: runtimeConfig, db, store: background.store, identityProvider, clock, log }
  const { redis } = background
  web.serve(buildPlacementsApp(context), new Readiness([...databaseChecks(db as unknown as Kysely<never>, placementsMigrations), ...(redis ? [redisCheck(redis)] : [])], { log }))

  return {
    url: publicUrl,
    metricsUrl: metricsServer?.url,
    context,
    async close() {
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
