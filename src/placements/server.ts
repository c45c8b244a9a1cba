import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Kysely } from 'kysely'
import { systemClock, type Clock } from '../platform/clock.ts'
import { migrate, openDatabase } from '../platform/database.ts'
import { createLogger } from '../platform/logger.ts'
import { DeliveryWorker, transportFrom } from '../platform/mail/delivery.ts'
import { connectRedis, PostgresShortLivedStore, RedisShortLivedStore, type ShortLivedStore } from '../platform/short-lived-store.ts'
import { buildPlacementsApp } from './app.ts'
import { IdentityProvider } from './auth/identity-provider.ts'
import type { PlacementsConfig } from './config.ts'
import type { PlacementsContext } from './context.ts'
import { placementsMigrations } from './database/migrations.ts'
import type { PlacementsDatabase } from './database/schema.ts'

export interface RunningPlacements {
  url: string
  context: PlacementsContext
  close(): Promise<void>
}

export interface StartOptions {
  clock?: Clock
  db?: Kysely<PlacementsDatabase>
  host?: string
  beforeListen?: (db: Kysely<PlacementsDatabase>) => Promise<void>
}

/** Starts Placements. With port 0 (tests) the public URL carries the real port. */
export async function startPlacements(config: PlacementsConfig, options: StartOptions = {}): Promise<RunningPlacements> {
  const clock = options.clock ?? systemClock
  const log = createLogger('placements')
  const db = options.db ?? await openDatabase<PlacementsDatabase>(config.database)
  if (config.environment !== 'production' || options.db) await migrate(db as unknown as Kysely<unknown>, placementsMigrations)
  await options.beforeListen?.(db)

  const server = http.createServer()
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve) => server.listen(config.port, options.host ?? '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const publicUrl = config.port === 0 ? `http://localhost:${port}` : config.publicUrl
  const runtimeConfig: PlacementsConfig = { ...config, port, publicUrl }

  const redis = config.redisUrl ? connectRedis(config.redisUrl) : undefined
  const store: ShortLivedStore = redis ? new RedisShortLivedStore(redis, config.redisPrefix) : new PostgresShortLivedStore(db as unknown as Kysely<never>, clock)
  const context: PlacementsContext = { config: runtimeConfig, db, store, identityProvider: new IdentityProvider(config.identityProvider), clock, log }
  server.on('request', buildPlacementsApp(context))

  const transport = transportFrom(config.mail)
  const worker = transport ? new DeliveryWorker(db as unknown as Kysely<never>, transport, clock, log) : undefined
  worker?.start()
  const sweeper = store instanceof PostgresShortLivedStore
    ? setInterval(() => { store.sweep().catch((error: unknown) => log.warn({ err: error }, 'sweep failed')) }, 10 * 60_000)
    : undefined
  sweeper?.unref()

  return {
    url: publicUrl,
    context,
    async close() {
      worker?.stop()
      clearInterval(sweeper)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      redis?.disconnect()
      if (!options.db) await db.destroy()
    }
  }
}
