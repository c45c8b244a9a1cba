import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import type { Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { placementsMigrations } from '../database/migrations.ts'
import type { PlacementsDatabase } from '../database/schema.ts'
import { addOrganisation, addUserToOrganisation, type ActionContext } from './actions.ts'
import { recordSignIn, type Identity } from './sign-in.ts'

// Who is this? The domain rule on its own, against a real database; on the server, the
// simultaneous sign-ins come through two connection pools, as from two nodes.
let database: TestDatabase<PlacementsDatabase>
let nodes: Kysely<PlacementsDatabase>[]
let c: ActionContext
let organisationId: string
const now = new Date('2026-11-27T10:00:00Z')
const actor = 'a1b2c3d4-0000-4000-8000-000000000000'

before(async () => {
  database = await freshDatabase<PlacementsDatabase>({ migrations: placementsMigrations })
  nodes = [database.db, await database.connectAnother()]
  c = { db: database.db, now, email: { serviceName: 'Manage school placements', publicUrl: 'https://placements.example', identityProviderName: 'DfE Sign-in', support: { email: 'support@placements.example', responseTime: 'We aim to respond within 2 working days.' } } }
  const school = await addOrganisation(c, null, { kind: 'school', name: 'Sign-in School', urn: '200001' })
  if (school.outcome !== 'added') throw new Error('setup')
  organisationId = school.organisation.id
})
after(() => database.drop())

async function invite(email: string, givenName = 'Invited', familyName = 'Person') {
  const result = await addUserToOrganisation(c, actor, organisationId, { email, givenName, familyName })
  if (result.outcome !== 'invited') throw new Error(`setup: ${result.outcome}`)
  return result.user
}

const identity = (overrides: Partial<Identity> & Pick<Identity, 'sub'>): Identity =>
  ({ email: undefined, emailVerified: true, givenName: undefined, familyName: undefined, ...overrides })

const userById = (id: string) => c.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
const auditCount = async (event: 'sign-in' | 'sign-in-no-access', email: string) =>
  Number((await c.db.selectFrom('audit_events').select((eb) => eb.fn.countAll().as('n')).where('event', '=', event).where('email', '=', email).executeTakeFirstOrThrow()).n)

for (const simultaneous of [6, 50]) {
  test(`${simultaneous} simultaneous first sign-ins of one invited person all get in, and the sub is bound once`, async () => {
    const email = `first.${simultaneous}@example.com`
    const invited = await invite(email)
    const sub = randomUUID()
    const outcomes = await Promise.allSettled(Array.from({ length: simultaneous }, (_, i) =>
      recordSignIn(nodes[i % nodes.length]!, identity({ sub, email: email.toUpperCase(), givenName: 'Fay', familyName: 'Fast' }), now)))

    const failed = outcomes.filter((o) => o.status === 'rejected').length
    const refused = outcomes.filter((o) => o.status === 'fulfilled' && o.value === undefined).length
    assert.equal(failed + refused, 0, `${refused} of ${simultaneous} sent to "no access", ${failed} threw`)
    for (const outcome of outcomes) assert.equal(outcome.status === 'fulfilled' && outcome.value?.id, invited.id)
    const user = await userById(invited.id)
    assert.equal(user.sign_in_sub, sub)
    assert.equal(`${user.given_name} ${user.family_name}`, 'Fay Fast')
    assert.deepEqual(user.last_signed_in_at, now)
    assert.equal(await auditCount('sign-in', email), simultaneous)
    assert.equal(await auditCount('sign-in-no-access', email.toUpperCase()), 0)
  })
}

test('an email address the provider has not verified never matches an invited person', async () => {
  const invited = await invite('unverified@example.com')
  const sub = randomUUID()
  assert.equal(await recordSignIn(c.db, identity({ sub, email: 'unverified@example.com', emailVerified: false }), now), undefined)
  assert.equal((await userById(invited.id)).sign_in_sub, null, 'not bound')
  assert.equal(await auditCount('sign-in-no-access', 'unverified@example.com'), 1)

  // Once bound with a verified address, the sub alone identifies them.
  assert.equal((await recordSignIn(c.db, identity({ sub, email: 'unverified@example.com', emailVerified: true }), now))?.id, invited.id)
  assert.equal((await recordSignIn(c.db, identity({ sub, email: 'unverified@example.com', emailVerified: false }), now))?.id, invited.id)
})

test('the sub wins over the address; an address bound to another sub, or no address, is no access', async () => {
  const moved = await invite('moved@example.com', 'Mo', 'Ved')
  const sub = randomUUID()
  assert.equal((await recordSignIn(c.db, identity({ sub, email: 'moved@example.com', givenName: '  ', familyName: undefined }), now))?.id, moved.id)
  assert.equal(`${(await userById(moved.id)).given_name} ${(await userById(moved.id)).family_name}`, 'Mo Ved', 'blank names keep ours')

  // They changed address at the provider, and someone invited the new address too.
  const newAddress = await invite('new.address@example.com')
  const later = new Date('2026-11-28T10:00:00Z')
  const signedIn = await recordSignIn(c.db, identity({ sub, email: 'new.address@example.com', givenName: 'Other', familyName: 'Name' }), later)
  assert.equal(signedIn?.id, moved.id, 'matched by the sub they have')
  assert.equal(signedIn?.given_name, 'Mo', 'names are taken only when the sub is first bound')
  assert.deepEqual(signedIn?.last_signed_in_at, later)
  assert.equal((await userById(newAddress.id)).sign_in_sub, null, 'the other invitation is left alone')

  assert.equal(await recordSignIn(c.db, identity({ sub: randomUUID(), email: 'moved@example.com' }), now), undefined, 'bound to another sub')
  assert.equal(await recordSignIn(c.db, identity({ sub: randomUUID() }), now), undefined, 'no address at all')
})
