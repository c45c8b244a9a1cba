import type { Kysely } from 'kysely'
import type { Clock } from '../platform/clock.ts'
import type { Logger } from '../platform/logger.ts'
import type { ShortLivedStore } from '../platform/short-lived-store.ts'
import type { IdentityProvider } from './auth/identity-provider.ts'
import type { PlacementsConfig } from './config.ts'
import type { PlacementsDatabase } from './database/schema.ts'
import type { ActionContext } from './domain/actions.ts'

export const serviceName = 'Manage school placements'

/** Everything a Placements request handler may use, built once at start-up. */
export interface PlacementsContext {
  config: PlacementsConfig
  db: Kysely<PlacementsDatabase>
  store: ShortLivedStore
  identityProvider: IdentityProvider
  clock: Clock
  log: Logger
}

export function actionContext(context: PlacementsContext): ActionContext {
  return {
    db: context.db,
    now: context.clock.now(),
    email: { serviceName, publicUrl: context.config.publicUrl, identityProviderName: context.identityProvider.displayName, support: context.config.info.support }
  }
}
