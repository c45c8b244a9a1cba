import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import { csrfFrom, HttpSession } from '../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../test/support/placements.ts'
import { signInToPlacements } from '../../../test/support/placements-flow.ts'
import { demoPassword } from '../../demo/personas.ts'
import { insertAccount } from '../../signin/accounts/accounts.ts'
import { hashPassword } from '../../signin/accounts/passwords.ts'

// A person changes their email address at Sign-in (ADR 13). Placements matches them by
// `sub`, so they keep their organisations; the address it shows follows the ID token's
// verified email claim at their next sign-in.
let services: TestServices
before(async () => {
  services = await startTestServices()
})
after(() => services.close())

const placementsDb = () => services.placements.context.db

async function latestCode(to: string): Promise<string> {
  const row = await services.signin.context.db.selectFrom('outbox').select('body').where('recipient', '=', to).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()
  return /\b(\d{6})\b/.exec(row.body)![1]!
}

test('after changing the email address at Sign-in, a person who had signed in to Placements still gets their organisation, and Placements shows the new address', async () => {
  const email = `mover-${randomUUID()}@example.com`
  const newEmail = `moved-${randomUUID()}@example.org`
  await insertAccount(services.signin.context.db, { email, givenName: 'Mo', familyName: 'Ver', passwordHash: await hashPassword(demoPassword) }, new Date())
  const schoolName = `Mover School ${randomUUID()}`
  const school = await placementsDb().insertInto('organisations').values({ kind: 'school', name: schoolName, urn: String(Math.floor(Math.random() * 1e9)), ukprn: null, provider_code: null, created_at: new Date() })
    .returning('id').executeTakeFirstOrThrow()
  const user = await placementsDb().insertInto('users').values({ email, email_normalised: email, given_name: 'Mo', family_name: 'Ver', sign_in_sub: null, last_signed_in_at: null, created_at: new Date() })
    .returning('id').executeTakeFirstOrThrow()
  await placementsDb().insertInto('memberships').values({ user_id: user.id, organisation_id: school.id, created_at: new Date() }).execute()

  // First sign-in: matched by the invited address, and the sub is bound.
  const http = new HttpSession()
  const first = await signInToPlacements(http, services.placements.url, email)
  assert.equal(first.status, 200)
  assert.ok(first.text.includes(schoolName))
  const bound = await placementsDb().selectFrom('users').select(['sign_in_sub', 'email']).where('id', '=', user.id).executeTakeFirstOrThrow()
  assert.ok(bound.sign_in_sub)

  // At Sign-in, in the same browser (signed in there a moment ago).
  const form = await http.get(`${services.signin.url}/account/change-email`)
  assert.equal(form.status, 200)
  const asked = await http.post(`${services.signin.url}/account/change-email`, { _csrf: csrfFrom(form.text), email: newEmail })
  assert.equal(asked.status, 303)
  const codePage = await http.get(`${services.signin.url}/account/change-email/check-your-email`)
  const done = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: await latestCode(newEmail) })
  assert.equal(done.status, 303)

  // A new browser, the new address: the same Placements user, with their organisation.
  const again = await signInToPlacements(new HttpSession(), services.placements.url, newEmail)
  assert.equal(again.status, 200)
  assert.ok(again.text.includes(schoolName), 'still in their organisation')
  const after = await placementsDb().selectFrom('users').select(['sign_in_sub', 'email', 'email_normalised']).where('id', '=', user.id).executeTakeFirstOrThrow()
  assert.deepEqual(after, { sign_in_sub: bound.sign_in_sub, email: newEmail, email_normalised: newEmail })
  const users = await placementsDb().selectFrom('users').select('id').where('sign_in_sub', '=', bound.sign_in_sub).execute()
  assert.equal(users.length, 1, 'no second user made')
  const audit = await placementsDb().selectFrom('audit_events').select('details').where('event', '=', 'email-updated-from-provider').where('subject_user_id', '=', user.id).executeTakeFirstOrThrow()
  assert.equal(audit.details.from, email)
})

test('an address already used by another Placements user is not taken over: the old address stays, access is unchanged', async () => {
  const email = `keeper-${randomUUID()}@example.com`
  const invited = `invited-${randomUUID()}@example.org`
  const account = await insertAccount(services.signin.context.db, { email, givenName: 'Kee', familyName: 'Per', passwordHash: await hashPassword(demoPassword) }, new Date())
  const user = await placementsDb().insertInto('users').values({ email, email_normalised: email, given_name: 'Kee', family_name: 'Per', sign_in_sub: null, last_signed_in_at: null, created_at: new Date() })
    .returning('id').executeTakeFirstOrThrow()
  const school = await placementsDb().insertInto('organisations').values({ kind: 'school', name: `Keeper School ${randomUUID()}`, urn: String(Math.floor(Math.random() * 1e9)), ukprn: null, provider_code: null, created_at: new Date() })
    .returning('id').executeTakeFirstOrThrow()
  await placementsDb().insertInto('memberships').values({ user_id: user.id, organisation_id: school.id, created_at: new Date() }).execute()
  assert.equal((await signInToPlacements(new HttpSession(), services.placements.url, email)).status, 200)
  // Another Placements user (an invitation) already has the address this person moves to.
  await placementsDb().insertInto('users').values({ email: invited, email_normalised: invited, given_name: 'In', family_name: 'Vited', sign_in_sub: null, last_signed_in_at: null, created_at: new Date() }).execute()
  await services.signin.context.db.updateTable('accounts').set({ email: invited, email_normalised: invited }).where('id', '=', account!.id).execute()
  assert.equal((await signInToPlacements(new HttpSession(), services.placements.url, invited)).status, 200)
  const after = await placementsDb().selectFrom('users').select('email').where('id', '=', user.id).executeTakeFirstOrThrow()
  assert.equal(after.email, email)
})
