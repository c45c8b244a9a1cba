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

test("every column the users page reads is in one index of memberships, so no table row is read (ADR 28)", async () => {
  const { rows } = await sql<{ column: string }>`
    select a.attname as column from pg_index i join pg_class c on c.oid = i.indexrelid
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where c.relname = 'memberships_listed'`.execute(db)
  const indexed = rows.map((row) => row.column === 'user_id' ? 'id' : row.column)
  const [organisation] = await db.insertInto('organisations').values({ kind: 'school', name: 'Indexed School', urn: '300003', ukprn: null, provider_code: null, created_at: new Date() }).returning('id').execute()
  const [user] = await db.insertInto('users').values({ email: 'indexed@members.example', email_normalised: 'indexed@members.example', given_name: 'In', family_name: 'Dexed', sign_in_sub: null, last_signed_in_at: null, created_at: new Date() }).returning('id').execute()
  await db.insertInto('memberships').values({ user_id: user!.id, organisation_id: organisation!.id, created_at: new Date() }).execute()
  const [member] = await membersOf(db, organisation!.id)
  for (const column of Object.keys(member!)) assert.ok(indexed.includes(column), `${column} is in memberships_listed`)
})

test("a member's name and address on the users page follow every change to the user, at once", async () => {
  const now = new Date()
  const [organisation] = await db.insertInto('organisations').values({ kind: 'school', name: 'Renaming School', urn: '300005', ukprn: null, provider_code: null, created_at: now }).returning('id').execute()
  const [user] = await db.insertInto('users').values({ email: 'before@rename.example', email_normalised: 'before@rename.example', given_name: 'Before', family_name: 'Rename', sign_in_sub: null, last_signed_in_at: null, created_at: now }).returning('id').execute()
  await db.insertInto('memberships').values({ user_id: user!.id, organisation_id: organisation!.id, created_at: now }).execute()
  assert.deepEqual(await membersOf(db, organisation!.id), [{ id: user!.id, given_name: 'Before', family_name: 'Rename', email: 'before@rename.example' }], 'a new membership copies the member')

  await db.updateTable('users').set({ given_name: 'After', family_name: 'Renamed', email: 'after@rename.example', email_normalised: 'after@rename.example' }).where('id', '=', user!.id).execute()
  assert.deepEqual(await membersOf(db, organisation!.id), [{ id: user!.id, given_name: 'After', family_name: 'Renamed', email: 'after@rename.example' }], 'a change to the user changes the copy')
})

test('25 renames of a user and 25 new memberships of theirs at once: every membership ends with the name the user ends with', async () => {
  const now = new Date()
  const organisations = await db.insertInto('organisations').values(Array.from({ length: 25 }, (_, n) => ({
    kind: 'school' as const, name: `Parallel Copy School ${n}`, urn: String(310_000 + n), ukprn: null, provider_code: null, created_at: now
  }))).returning('id').execute()
  const [user] = await db.insertInto('users').values({ email: 'parallel@copy.example', email_normalised: 'parallel@copy.example', given_name: 'Name 0', family_name: 'Copy', sign_in_sub: null, last_signed_in_at: null, created_at: now }).returning('id').execute()
  const other = await database.connectAnother()
  await Promise.all([
    ...organisations.map((organisation, n) => (n % 2 === 0 ? db : other).insertInto('memberships').values({ user_id: user!.id, organisation_id: organisation.id, created_at: now }).execute()),
    ...organisations.map((_, n) => (n % 2 === 0 ? other : db).updateTable('users').set({ given_name: `Name ${n + 1}` }).where('id', '=', user!.id).execute())
  ])
  const final = await db.selectFrom('users').select('given_name').where('id', '=', user!.id).executeTakeFirstOrThrow()
  const copies = await db.selectFrom('memberships').select('given_name').where('user_id', '=', user!.id).execute()
  assert.equal(copies.length, 25)
  assert.deepEqual(new Set(copies.map((copy) => copy.given_name)), new Set([final.given_name]))
})
