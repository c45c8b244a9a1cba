import type { Clock } from '../../src/platform/clock.ts'
import type { Logger } from '../../src/platform/logger.ts'
import { readPlacementsConfig } from '../../src/placements/config.ts'
import type { PlacementsDatabase } from '../../src/placements/database/schema.ts'
import { seedPlacements } from '../../src/placements/seed.ts'
import { startPlacements, type RunningPlacements } from '../../src/placements/server.ts'
import { seedDevelopment } from '../../src/signin/seed.ts'
import { freshDatabase, redisSettings } from './databases.ts'
import { startTestSignin, type TestSignin } from './signin.ts'

/**
 * Both services running together, as `npm start` runs them, on free ports with their
 * own fresh databases: Sign-in (with the personas' accounts and the Placements client
 * registered for Placements' real URL) and Placements (with the demo organisations).
 */
export interface TestServices {
  signin: TestSignin
  placements: RunningPlacements
  /** The newest email Placements sent to this address. */
  latestPlacementsEmail(to: string): Promise<{ subject: string, body: string } | undefined>
  close(): Promise<void>
}

export interface TestServicesOptions {
  clock?: Clock
  placementsEnv?: NodeJS.ProcessEnv
  /** Point Placements at another OpenID Provider instead of the started Sign-in. */
  issuerUrl?: string
  clientId?: string
  clientSecret?: string
  seed?: boolean
  /** Each service's logger (a test reading the logs); silent otherwise. */
  signinLog?: Logger
  placementsLog?: Logger
  /** Extra settings for Sign-in (its metrics port, say). */
  signinEnv?: NodeJS.ProcessEnv
}

export async function startTestServices(options: TestServicesOptions = {}): Promise<TestServices> {
  const signin = await startTestSignin({
    ...(options.clock ? { clock: options.clock } : {}), ...(options.signinLog ? { log: options.signinLog } : {}), ...(options.signinEnv ? { env: options.signinEnv } : {})
  })
  const database = await freshDatabase<PlacementsDatabase>()
  const client = { clientId: 'manage-school-placements', secret: 'test-placements-secret-0123456789abcdef' }
  const config = {
    ...readPlacementsConfig({
      NODE_ENV: 'test',
      PLACEMENTS_PORT: '0',
      OIDC_ISSUER_URL: options.issuerUrl ?? signin.url,
      OIDC_CLIENT_ID: options.clientId ?? client.clientId,
      OIDC_CLIENT_SECRET: options.clientSecret ?? client.secret,
      ...options.placementsEnv
    }),
    ...redisSettings()
  }
  const placements = await startPlacements(config, {
    db: database.db,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.placementsLog ? { log: options.placementsLog } : {}),
    beforeListen: options.seed === false ? undefined : (db) => seedPlacements(db, new Date())
  })
  // Sign-in learns Placements' real address only now (port 0): register the client for it.
  await seedDevelopment(signin.context.db, new Date(), { ...client, placementsUrl: placements.url })
  return {
    signin,
    placements,
    async latestPlacementsEmail(to: string) {
      return placements.context.db.selectFrom('outbox').select(['subject', 'body'])
        .where('recipient', '=', to).orderBy('seq', 'desc').limit(1).executeTakeFirst()
    },
    async close() {
      await placements.close()
      await database.drop()
      await signin.close()
    }
  }
}
