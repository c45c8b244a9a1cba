import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Kysely } from 'kysely'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'
import { DeliveryWorker, transportFrom, type MailConfig } from './mail/delivery.ts'
import { connectRedis, PostgresShortLivedStore, RedisShortLivedStore, type ShortLivedStore } from './short-lived-store.ts'

/** What each service does the same way at start-up and shut-down. */

/** How tests and `npm start` start a service. */
export interface StartOptions<Schema> {
  clock?: Clock
  /** Tests open their own database (in memory, or a fresh one on the server). */
  db?: Kysely<Schema>
  /** Bind to this host; the public URL still says localhost. */
  host?: string
  /** Runs after migrations, before the port is bound (development seeds). */
  beforeListen?: (db: Kysely<Schema>) => Promise<void>
}

/**
 * Binds the port before the app exists, so with port 0 (tests) the public URL (and so an
 * issuer or redirect URI) can carry the real port.
 */
export async function listen(port: number, host: string, configuredUrl: string): Promise<{ server: http.Server, port: number, publicUrl: string }> {
  const server = http.createServer()
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  const actual = (server.address() as AddressInfo).port
  return { server, port: actual, publicUrl: port === 0 ? `http://localhost:${actual}` : configuredUrl }
}

export interface BackgroundWork {
  store: ShortLivedStore
  stop(): void
}

/**
 * The short-lived store (Redis when configured, else a table swept every 10 minutes)
 * and the outbox delivery worker (when a mail transport is configured).
 */
export function startBackgroundWork(options: {
  db: Kysely<never>, redisUrl: string | undefined, redisPrefix: string, mail: MailConfig, clock: Clock, log: Logger
}): BackgroundWork & { redis: ReturnType<typeof connectRedis> | undefined } {
  const { db, clock, log } = options
  const redis = options.redisUrl ? connectRedis(options.redisUrl) : undefined
  const store: ShortLivedStore = redis ? new RedisShortLivedStore(redis, options.redisPrefix) : new PostgresShortLivedStore(db, clock)
  const transport = transportFrom(options.mail)
  const worker = transport ? new DeliveryWorker(db, transport, clock, log) : undefined
  worker?.start()
  const sweeper = store instanceof PostgresShortLivedStore
    ? setInterval(() => { store.sweep().catch((error: unknown) => log.warn({ err: error }, 'sweep failed')) }, 10 * 60_000)
    : undefined
  sweeper?.unref()
  return {
    store,
    redis,
    stop() {
      worker?.stop()
      clearInterval(sweeper)
      redis?.disconnect()
    }
  }
}

export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
