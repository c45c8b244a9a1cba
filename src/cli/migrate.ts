import type { Kysely } from 'kysely'
import { migrate } from '../platform/database.ts'
import { signinMigrations } from '../signin/database/migrations.ts'
import { openSigninDatabase } from './signin-database.ts'

/** `npm run migrate`: applies pending migrations (production runs this before starting). */
const db = await openSigninDatabase()
try {
  const applied = await migrate(db as unknown as Kysely<unknown>, signinMigrations)
  console.warn(applied.length ? `Sign-in: applied ${applied.join(', ')}` : 'Sign-in: database is up to date')
} finally {
  await db.destroy()
}
