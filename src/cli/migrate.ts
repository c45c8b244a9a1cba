import type { Kysely } from 'kysely'
import { migrate } from '../platform/database.ts'
import { readPlacementsConfig } from '../placements/config.ts'
import { placementsMigrations } from '../placements/database/migrations.ts'
import { signinMigrations } from '../signin/database/migrations.ts'
import { withDatabase } from './signin-database.ts'
import { readSigninConfig } from '../signin/config.ts'

/**
 * `npm run migrate`: applies each service's pending migrations to its own database
 * (production runs this before starting; development migrates on start).
 * `START=signin` or `START=placements` migrates one.
 */
const only = process.env.START
const services = [
  { name: 'Sign-in', skip: only === 'placements', location: () => readSigninConfig().database, migrations: signinMigrations },
  { name: 'Placements', skip: only === 'signin', location: () => readPlacementsConfig().database, migrations: placementsMigrations }
]
for (const service of services) {
  if (service.skip) continue
  await withDatabase<unknown>(service.location(), async (db) => {
    const applied = await migrate(db as Kysely<unknown>, service.migrations)
    console.warn(applied.length ? `${service.name}: applied ${applied.join(', ')}` : `${service.name}: database is up to date`)
  })
  if (process.exitCode) break
}
