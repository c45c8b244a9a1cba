import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { placementsMigrations } from '../database/migrations.ts'
import type { PlacementsDatabase } from '../database/schema.ts'
import { membersOf } from './users.ts'

let database: TestDatabase<PlacementsDatabase>
let db: Kysely<PlacementsDatabase>
before(async () => {
  database = await freshDatabase<PlacementsDatabase>({ migrations: placementsMigrations })
  db = database.db
})
after(() => database.drop())

test("an organisation's members, by family name then given name, and nobody from another organisation", async () => {
  const now = new Date()
  const [school, other] = await db.insertInto('organisations').values([
    { kind: 'school', name: 'Members School', urn: '300001', ukprn: null, provider_code: null, created_at: now },
    { kind: 'school', name: 'Other School', urn: '300002', ukprn: null, provider_code: null, created_at: now }
  ]).returning('id').execute()
  const people = [['Zara', 'Adams'], ['Ben', 'Patel'], ['Anne', 'Patel'], ['Tom', 'Other']] as const
  const users = await db.insertInto('users').values(people.map(([given, family]) => ({
    email: `${given}.${family}@members.example`, email_normalised: `${given}.${family}@members.example`.toLowerCase(),
    given_name: given, family_name: family, sign_in_sub: null, last_signed_in_at: null, created_at: now
  }))).returning('id').execute()
  await db.insertInto('memberships').values(users.map((user, n) => ({ user_id: user.id, organisation_id: n < 3 ? school!.id : other!.id, created_at: now }))).execute()

  const members = await membersOf(db, school!.id)
  assert.deepEqual(members.map((member) => `${member.given_name} ${member.family_name}`), ['Zara Adams', 'Anne Patel', 'Ben Patel'])
  assert.deepEqual(members[0], { id: users[0]!.id, given_name: 'Zara', family_name: 'Adams', email: 'Zara.Adams@members.example' })
})

test('every column the users page reads is in the index beside the user id, so no table row is read (ADR 25)', async () => {
  const { rows } = await sql<{ column: string }>`
    select a.attname as column from pg_index i join pg_class c on c.oid = i.indexrelid
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where c.relname = 'users_listed'`.execute(db)
  const indexed = rows.map((row) => row.column)
  const [organisation] = await db.insertInto('organisations').values({ kind: 'school', name: 'Indexed School', urn: '300003', ukprn: null, provider_code: null, created_at: new Date() }).returning('id').execute()
  const [user] = await db.insertInto('users').values({ email: 'indexed@members.example', email_normalised: 'indexed@members.example', given_name: 'In', family_name: 'Dexed', sign_in_sub: null, last_signed_in_at: null, created_at: new Date() }).returning('id').execute()
  await db.insertInto('memberships').values({ user_id: user!.id, organisation_id: organisation!.id, created_at: new Date() }).execute()
  const [member] = await membersOf(db, organisation!.id)
  for (const column of Object.keys(member!)) assert.ok(indexed.includes(column), `${column} is in users_listed`)
})
