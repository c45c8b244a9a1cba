import type { Kysely } from 'kysely'
import { systemClock } from '../platform/clock.ts'
import { migrate, openDatabase } from '../platform/database.ts'
import { createLogger } from '../platform/logger.ts'
import { closeServer, listen, startBackgroundWork, type StartOptions as ServiceStartOptions } from '../platform/runtime.ts'
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

export type StartOptions = ServiceStartOptions<PlacementsDatabase>

/** Starts Placements. With port 0 (tests) the public URL carries the real port. */
export async function startPlacements(config: PlacementsConfig, options: StartOptions = {}): Promise<RunningPlacements> {
  const clock = options.clock ?? systemClock
  const log = createLogger('placements')
  const db = options.db ?? await openDatabase<PlacementsDatabase>(config.database)
  if (config.environment !== 'production' || options.db) await migrate(db as unknown as Kysely<unknown>, placementsMigrations)
  await options.beforeListen?.(db)

  const { server, port, publicUrl } = await listen(config.port, options.host ?? '127.0.0.1', config.publicUrl)
  const runtimeConfig: PlacementsConfig = { ...config, port, publicUrl }
  const background = startBackgroundWork({ db: db as unknown as Kysely<never>, redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, mail: config.mail, clock, log })
  const context: PlacementsContext = { config: runtimeConfig, db, store: background.store, identityProvider: new IdentityProvider(config.identityProvider), clock, log }
  server.on('request', buildPlacementsApp(context))

  return {
    url: publicUrl,
    context,
    async close() {
      background.stop()
      await closeServer(server)
      if (!options.db) await db.destroy()
    }
  }
}
