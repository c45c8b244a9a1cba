import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { placementsMigrations } from '../database/migrations.ts'
import type { PlacementsDatabase } from '../database/schema.ts'
import { addOrganisation, addSupportUser, addUserToOrganisation, removeMembership, removeSupportUser, type ActionContext } from './actions.ts'

// The verbs on their own, against a real database: each is one transaction with its
// audit event and its email.
let database: TestDatabase<PlacementsDatabase>
let c: ActionContext
before(async () => {
  database = await freshDatabase<PlacementsDatabase>({ migrations: placementsMigrations })
  c = { db: database.db, now: new Date('2026-11-27T10:00:00Z'), email: { serviceName: 'Manage school placements', publicUrl: 'https://placements.example', identityProviderName: 'DfE Sign-in', support: { email: 'support@placements.example', responseTime: 'We aim to respond within 2 working days.' } } }
})
after(() => database.drop())

const count = async (table: 'users' | 'memberships' | 'outbox' | 'audit_events' | 'organisations') =>
  Number((await c.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

test('adding organisations: codes are tidied, and duplicates (in any case, or at the same moment) are reported, never a crash', async () => {
  const added = await addOrganisation(c, null, { kind: 'provider', name: ' A Provider ', ukprn: ' 10000001 ', providerCode: 'ab1' })
  assert.equal(added.outcome, 'added')
  if (added.outcome === 'added') {
    assert.equal(added.organisation.provider_code, 'AB1')
    assert.equal(added.organisation.ukprn, '10000001')
    assert.equal(added.organisation.name, 'A Provider')
  }
  assert.deepEqual(await addOrganisation(c, null, { kind: 'provider', name: 'Other', ukprn: '10000002', providerCode: 'Ab1' }), { outcome: 'duplicate', field: 'providerCode' })
  const racing = await Promise.all([1, 2, 3].map(() => addOrganisation(c, null, { kind: 'school', name: 'Same School', urn: '654321' })))
  assert.equal(racing.filter((r) => r.outcome === 'added').length, 1)
  assert.equal(racing.filter((r) => r.outcome === 'duplicate').length, 2)
})

test('inviting: a new user and an email; the same person in a second organisation gains a membership, not a second user', async () => {
  const first = await addOrganisation(c, null, { kind: 'school', name: 'First School', urn: '100001' })
  const second = await addOrganisation(c, null, { kind: 'school', name: 'Second School', urn: '100002' })
  if (first.outcome !== 'added' || second.outcome !== 'added') throw new Error('setup')
  const users = await count('users')
  const invited = await addUserToOrganisation(c, 'a1b2c3d4-0000-4000-8000-000000000000', first.organisation.id, { email: 'New.Person@example.com', givenName: 'New', familyName: 'Person' })
  assert.equal(invited.outcome, 'invited')
  const again = await addUserToOrganisation(c, 'a1b2c3d4-0000-4000-8000-000000000000', second.organisation.id, { email: 'new.person@EXAMPLE.com', givenName: 'Other', familyName: 'Name' })
  assert.equal(again.outcome, 'membership-added')
  assert.equal(await count('users'), users + 1)
  assert.equal((await addUserToOrganisation(c, 'a1b2c3d4-0000-4000-8000-000000000000', second.organisation.id, { email: 'new.person@example.com', givenName: 'N', familyName: 'P' })).outcome, 'already-member')
  const email = await c.db.selectFrom('outbox').selectAll().where('recipient', '=', 'New.Person@example.com').orderBy('seq', 'asc').executeTakeFirstOrThrow()
  assert.match(email.subject, /First School/)
  assert.match(email.body, /https:\/\/placements\.example\/sign-in\?login_hint=New\.Person%40example\.com/)

  if (invited.outcome !== 'invited') throw new Error('setup')
  assert.equal(await removeMembership(c, invited.user.id, first.organisation.id, invited.user.id), 'cannot-remove-self')
  const before = await count('audit_events')
  assert.equal(await removeMembership(c, 'a1b2c3d4-0000-4000-8000-000000000000', first.organisation.id, invited.user.id), 'removed')
  assert.equal(await count('audit_events'), before + 1)
  assert.equal(await removeMembership(c, 'a1b2c3d4-0000-4000-8000-000000000000', first.organisation.id, invited.user.id), 'not-a-member')
})

test('support users must have a department address; nobody removes themselves; malformed ids change nothing', async () => {
  assert.equal(await addSupportUser(c, null, { email: 'someone@education.gov.uk.example.com', givenName: 'S', familyName: 'U' }, 'education.gov.uk'), 'not-department-address')
  assert.equal(await addSupportUser(c, null, { email: 'Sam.Support@Education.gov.uk', givenName: 'Sam', familyName: 'Support' }, 'education.gov.uk'), 'added')
  assert.equal(await addSupportUser(c, null, { email: 'sam.support@education.gov.uk', givenName: 'Sam', familyName: 'Support' }, 'education.gov.uk'), 'already-support')
  const sam = await c.db.selectFrom('users').select('id').where('email_normalised', '=', 'sam.support@education.gov.uk').executeTakeFirstOrThrow()
  assert.equal(await removeSupportUser(c, sam.id, sam.id), 'cannot-remove-self')
  assert.equal(await removeSupportUser(c, sam.id, 'not-a-uuid'), 'not-support')
  assert.equal(await removeSupportUser(c, 'a1b2c3d4-0000-4000-8000-000000000000', sam.id), 'removed')
})

// Simultaneous requests, as from two nodes: on the server, through two connection pools.
const simultaneously = async <T>(count: number, action: (c: ActionContext, i: number) => Promise<T>) => {
  const other = { ...c, db: await database.connectAnother() }
  const outcomes = await Promise.allSettled(Array.from({ length: count }, (_, i) => action(i % 2 ? other : c, i)))
  const failures = outcomes.flatMap((o) => o.status === 'rejected' ? [o.reason as Error] : [])
  assert.equal(failures.length, 0, `${failures.length} of ${count} threw: ${failures[0]?.message}`)
  return outcomes.map((o) => (o as PromiseFulfilledResult<T>).value)
}
const tally = (outcomes: string[]) => outcomes.reduce<Record<string, number>>((counts, o) => ({ ...counts, [o]: (counts[o] ?? 0) + 1 }), {})
const school = async (urn: string) => {
  const added = await addOrganisation(c, null, { kind: 'school', name: `School ${urn}`, urn })
  if (added.outcome !== 'added') throw new Error('setup')
  return added.organisation.id
}
const usersWithEmail = (email: string) => c.db.selectFrom('users').selectAll().where('email_normalised', '=', email).execute()
const membershipsOf = async (email: string) => (await c.db.selectFrom('memberships').innerJoin('users', 'users.id', 'memberships.user_id')
  .select('memberships.organisation_id').where('users.email_normalised', '=', email).execute()).map((m) => m.organisation_id)

test('40 simultaneous invitations of one new address to one organisation: one user, one membership, one email, the rest "already a member"', async () => {
  const organisationId = await school('300001')
  const results = await simultaneously(40, (ctx, i) => addUserToOrganisation(ctx, 'a1b2c3d4-0000-4000-8000-000000000000', organisationId, { email: i % 3 ? 'twin@example.com' : 'Twin@Example.com', givenName: 'Twin', familyName: `Number ${i}` }))
  assert.deepEqual(tally(results.map((r) => r.outcome)), { invited: 1, 'already-member': 39 })
  assert.equal((await usersWithEmail('twin@example.com')).length, 1)
  assert.deepEqual(await membershipsOf('twin@example.com'), [organisationId])
  assert.equal((await c.db.selectFrom('outbox').select('id').where('recipient', 'in', ['twin@example.com', 'Twin@Example.com']).execute()).length, 1)
})

test('40 simultaneous invitations of one new address to 40 organisations: one user in all 40', async () => {
  const organisationIds: string[] = []
  for (let i = 0; i < 40; i++) organisationIds.push(await school(String(310000 + i)))
  const results = await simultaneously(40, (ctx, i) => addUserToOrganisation(ctx, 'a1b2c3d4-0000-4000-8000-000000000000', organisationIds[i]!, { email: 'everywhere@example.com', givenName: 'Ever', familyName: 'Where' }))
  assert.deepEqual(tally(results.map((r) => r.outcome)), { invited: 1, 'membership-added': 39 })
  const [user, ...more] = await usersWithEmail('everywhere@example.com')
  assert.equal(more.length, 0)
  assert.ok(results.every((r) => r.outcome !== 'no-organisation' && r.user.id === user!.id))
  assert.deepEqual((await membershipsOf('everywhere@example.com')).sort(), organisationIds.sort())
})

test('40 people adding one existing user to one organisation at once: one membership, the rest "already a member"', async () => {
  const first = await school('320001')
  const second = await school('320002')
  await addUserToOrganisation(c, 'a1b2c3d4-0000-4000-8000-000000000000', first, { email: 'existing@example.com', givenName: 'Ex', familyName: 'Isting' })
  const results = await simultaneously(40, (ctx) => addUserToOrganisation(ctx, 'a1b2c3d4-0000-4000-8000-000000000000', second, { email: 'existing@example.com', givenName: 'Ex', familyName: 'Isting' }))
  assert.deepEqual(tally(results.map((r) => r.outcome)), { 'membership-added': 1, 'already-member': 39 })
  assert.deepEqual((await membershipsOf('existing@example.com')).sort(), [first, second].sort())
})

test('40 simultaneous additions of one new support user: one user, one support row, the rest "already a support user"', async () => {
  const results = await simultaneously(40, (ctx) => addSupportUser(ctx, null, { email: 'new.support@education.gov.uk', givenName: 'New', familyName: 'Support' }, 'education.gov.uk'))
  assert.deepEqual(tally(results), { added: 1, 'already-support': 39 })
  const users = await usersWithEmail('new.support@education.gov.uk')
  assert.equal(users.length, 1)
  assert.equal((await c.db.selectFrom('support_users').select('user_id').where('user_id', '=', users[0]!.id).execute()).length, 1)
})

test('40 simultaneous additions of one organisation: one added, the rest told it exists', async () => {
  const results = await simultaneously(40, (ctx, i) => addOrganisation(ctx, null, { kind: 'provider', name: `Racing Provider ${i}`, ukprn: '10099999', providerCode: `R${String(i).padStart(2, '0')}` }))
  assert.deepEqual(tally(results.map((r) => r.outcome === 'duplicate' ? `duplicate ${r.field}` : r.outcome)), { added: 1, 'duplicate ukprn': 39 })
})
