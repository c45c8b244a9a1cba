import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { migrate } from '../../platform/database.ts'
import { placementsMigrations } from '../database/migrations.ts'
import type { PlacementsDatabase } from '../database/schema.ts'
import { addOrganisation, addSupportUser, addUserToOrganisation, removeMembership, removeSupportUser, type ActionContext } from './actions.ts'

// The verbs on their own, against a real database: each is one transaction with its
// audit event and its email.
let database: TestDatabase<PlacementsDatabase>
let c: ActionContext
before(async () => {
  database = await freshDatabase<PlacementsDatabase>()
  await migrate(database.db as unknown as Kysely<unknown>, placementsMigrations)
  c = { db: database.db, now: new Date('2026-11-27T10:00:00Z'), email: { serviceName: 'Manage school placements', publicUrl: 'https://placements.example', identityProviderName: 'DfE Sign-in' } }
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
