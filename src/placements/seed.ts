import type { Kysely } from 'kysely'
import { demoPersonas } from '../demo/personas.ts'
import { lockUntilCommit } from '../platform/database.ts'
import type { PlacementsDatabase } from './database/schema.ts'
import { normaliseEmail } from './domain/users.ts'

/**
 * Development only: demo organisations and the four personas (whose Sign-in accounts
 * Sign-in's own seed creates with the same addresses). Runs once, on an empty database.
 */
const schools = [
  ['Oakwood Primary School', '136790'], ['Riverside Academy', '142345'], ['St Mary’s Church of England Primary School', '118234'],
  ['Hillcrest Community School', '131001'], ['Meadowbank Infant School', '120456'], ['Northfield High School', '137812'],
  ['Ashgrove Junior School', '114567'], ['Beechwood Secondary School', '139921'], ['Castle View Primary School', '125678'],
  ['Elmstead Academy', '143210'], ['Fairfield Primary School', '112233'], ['Greenway School', '133344'],
  ['Harbour Primary School', '128899'], ['Kingsmead School', '141122'], ['Larchfield Primary School', '117788'],
  ['Millbrook Academy', '144556'], ['Newlands Primary School', '119900'], ['Orchard Vale School', '135566'],
  ['Parkside Primary School', '121314'], ['Queensway Academy', '145151'], ['Rosehill Primary School', '116171'],
  ['Southgate School', '138192'], ['Thornbury Primary School', '122232'], ['Westfield Academy', '146262']
] as const
const providers = [
  ['Best Practice Network', '10000123', '1BN'], ['North West Teacher Training Partnership', '10065432', '2NW'],
  ['University of Southshire', '10007777', 'S45'], ['Midlands SCITT', '10044321', '3MS']
] as const

export async function seedPlacements(db: Kysely<PlacementsDatabase>, now: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // Every node starting at once may get here: one seeds, the others then find it done.
    await lockUntilCommit(trx, 'placements-seed')
    const existing = await trx.selectFrom('organisations').select('id').limit(1).executeTakeFirst()
    if (existing) return
    const ids = new Map<string, string>()
    for (const [name, urn] of schools) {
      const row = await trx.insertInto('organisations').values({ kind: 'school', name, urn, ukprn: null, provider_code: null, created_at: now }).returning('id').executeTakeFirstOrThrow()
      ids.set(name, row.id)
    }
    for (const [name, ukprn, code] of providers) {
      const row = await trx.insertInto('organisations').values({ kind: 'provider', name, urn: null, ukprn, provider_code: code, created_at: now }).returning('id').executeTakeFirstOrThrow()
      ids.set(name, row.id)
    }
    const memberships: Record<string, string[]> = {
      'anne.wilson@example.com': ['Oakwood Primary School'],
      'patricia.adebayo@example.com': ['Best Practice Network'],
      'mary.lawson@example.com': ['Riverside Academy', 'North West Teacher Training Partnership', 'Oakwood Primary School'],
      'colin.chapman@education.gov.uk': []
    }
    for (const persona of demoPersonas) {
      const user = await trx.insertInto('users').values({
        email: persona.email, email_normalised: normaliseEmail(persona.email), given_name: persona.givenName, family_name: persona.familyName,
        sign_in_sub: null, last_signed_in_at: null, created_at: now
      }).returning('id').executeTakeFirstOrThrow()
      for (const organisation of memberships[persona.email] ?? []) {
        await trx.insertInto('memberships').values({ user_id: user.id, organisation_id: ids.get(organisation)!, created_at: now }).execute()
      }
      if (persona.email.endsWith('@education.gov.uk')) await trx.insertInto('support_users').values({ user_id: user.id, created_at: now }).execute()
    }
  })
}
