import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { FakeClock } from '../../platform/clock.ts'
import { HttpSession, csrfFrom } from '../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../test/support/placements.ts'
import { signInToPlacements } from '../../../test/support/placements-flow.ts'
import { insertAccount } from '../../signin/accounts/accounts.ts'
import { hashPassword } from '../../signin/accounts/passwords.ts'
import { demoPassword } from '../../demo/personas.ts'
import { actionContext } from '../context.ts'
import { removeMembership } from '../domain/actions.ts'
import { findUserByEmail } from '../domain/users.ts'

// Access rules (journeys.md, "Placements: pages and rules"), over real HTTP with both
// services running. The clock is fake so timeouts can be crossed without waiting.
const clock = new FakeClock(new Date())
let services: TestServices
let url: string
before(async () => {
  services = await startTestServices({ clock })
  url = services.placements.url
})
after(() => services.close())

const db = () => services.placements.context.db
const cookieName = 'placements-session'

async function addSigninAccount(email: string, givenName = 'Pat', familyName = 'Example') {
  await insertAccount(services.signin.context.db, { email, givenName, familyName, passwordHash: await hashPassword(demoPassword) }, new Date())
}

test('a school user with one organisation goes straight to it; the sub and names are bound at the first match by email', async () => {
  await db().updateTable('users').set({ given_name: 'Annie' }).where('email_normalised', '=', 'anne.wilson@example.com').execute()
  const page = await signInToPlacements(new HttpSession(), url, 'anne.wilson@example.com')
  assert.equal(page.status, 200)
  assert.match(page.url, /\/organisations\/[0-9a-f-]{36}$/)
  assert.match(page.text, /Oakwood Primary School/)
  const user = (await findUserByEmail(db(), 'anne.wilson@example.com'))!
  const account = await services.signin.context.db.selectFrom('accounts').select('id').where('email_normalised', '=', 'anne.wilson@example.com').executeTakeFirstOrThrow()
  assert.equal(user.sign_in_sub, account.id)
  assert.equal(user.given_name, 'Anne', 'names come from the identity provider')
  assert.ok(user.last_signed_in_at)
})

test('once bound, the sub matches even after the person changes their email at the provider', async () => {
  await signInToPlacements(new HttpSession(), url, 'patricia.adebayo@example.com')
  await services.signin.context.db.updateTable('accounts').set({ email: 'p.adebayo@example.org', email_normalised: 'p.adebayo@example.org' })
    .where('email_normalised', '=', 'patricia.adebayo@example.com').execute()
  const page = await signInToPlacements(new HttpSession(), url, 'p.adebayo@example.org')
  assert.match(page.text, /Best Practice Network/)
})

test('an email already bound to another sub does not match a new account with that address', async () => {
  await db().insertInto('users').values({
    email: 'bound@example.com', email_normalised: 'bound@example.com', given_name: 'B', family_name: 'Bound',
    sign_in_sub: 'some-other-identity', last_signed_in_at: null, created_at: new Date()
  }).execute()
  await addSigninAccount('bound@example.com')
  const page = await signInToPlacements(new HttpSession(), url, 'bound@example.com')
  assert.match(page.url, /\/no-access$/)
})

test('no matching user: the no-access page shows the address used, why, and how to switch account', async () => {
  await addSigninAccount('Someone.Else@example.com')
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, 'someone.else@example.com')
  assert.match(page.url, /\/no-access$/)
  assert.equal(page.status, 200)
  assert.match(page.text, /You do not have access to this service/)
  assert.match(page.text, /Someone\.Else@example\.com/)
  assert.match(page.text, /Sign out and sign in with a different account/)
  // No loop: the protected pages send them back here, not round the sign-in again.
  const organisations = await http.get(`${url}/organisations`)
  assert.equal(organisations.status, 303)
  const audit = await db().selectFrom('audit_events').selectAll().where('event', '=', 'sign-in-no-access').execute()
  assert.ok(audit.some((row) => row.email === 'Someone.Else@example.com'))
})

test('a removed member loses access at their next request', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, 'anne.wilson@example.com')
  const anne = (await findUserByEmail(db(), 'anne.wilson@example.com'))!
  const organisationId = page.url.split('/').at(-1)!
  const colin = (await findUserByEmail(db(), 'colin.chapman@education.gov.uk'))!
  assert.equal(await removeMembership(actionContext(services.placements.context), colin.id, organisationId, anne.id), 'removed')
  const next = await http.get(page.url)
  assert.equal(next.status, 303)
  assert.equal(next.headers.get('location'), '/no-access')
  await db().insertInto('memberships').values({ user_id: anne.id, organisation_id: organisationId, created_at: new Date() }).execute()
})

test('a deep link is remembered through sign-in; only same-site paths are', async () => {
  const mary = await signInToPlacements(new HttpSession(), url, 'mary.lawson@example.com')
  const chooser = mary.text.match(/value="([0-9a-f-]{36})"/)![1]!
  const http = new HttpSession()
  const first = await http.get(`${url}/organisations/${chooser}`)
  assert.equal(first.status, 303)
  assert.equal(first.headers.get('location'), `/sign-in?return_to=${encodeURIComponent(`/organisations/${chooser}`)}`)
  const landed = await signInToPlacements(http, url, 'mary.lawson@example.com', { path: first.headers.get('location')! })
  assert.equal(new URL(landed.url).pathname, `/organisations/${chooser}`)

  for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', '/%0d%0aLocation:evil', 'javascript:alert(1)']) {
    const session = new HttpSession()
    const page = await signInToPlacements(session, url, 'anne.wilson@example.com', { path: `/sign-in?return_to=${encodeURIComponent(evil)}` })
    assert.equal(new URL(page.url).origin, url, evil)
    // An encoded CR/LF stays an (unknown) path on our own site, never a header.
    if (!evil.startsWith('/%')) assert.match(new URL(page.url).pathname, /^\/organisations\//, evil)
  }
})

test('the session id changes at sign-in', async () => {
  const http = new HttpSession()
  await http.get(`${url}/`)
  const before = http.cookie(cookieName, url)
  assert.ok(before, 'an anonymous session exists before sign-in (it holds the CSRF token)')
  await signInToPlacements(http, url, 'anne.wilson@example.com')
  const after = http.cookie(cookieName, url)
  assert.ok(after)
  assert.notEqual(after, before)
  const replay = new HttpSession()
  const stale = await replay.get(`${url}/organisations`, { cookie: `${cookieName}=${before}` })
  assert.equal(stale.status, 303)
  assert.match(stale.headers.get('location')!, /^\/sign-in/)
})

test('after 20 minutes without a request the session ends on the server, and the person is told', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, 'anne.wilson@example.com')
  clock.advanceSeconds(1190)
  assert.equal((await http.get(page.url)).status, 200, 'activity within 20 minutes keeps the session')
  clock.advanceSeconds(1190)
  assert.equal((await http.get(page.url)).status, 200, 'each request restarts the 20 minutes')
  const timeouts = () => db().selectFrom('audit_events').select('id').where('event', '=', 'session-timed-out').execute()
  const before = (await timeouts()).length
  clock.advanceSeconds(1201)
  const timedOut = await http.get(page.url)
  assert.equal(timedOut.status, 303)
  assert.equal(timedOut.headers.get('location'), '/timed-out')
  const anne = (await findUserByEmail(db(), 'anne.wilson@example.com'))!
  const recorded = await db().selectFrom('audit_events').selectAll().where('event', '=', 'session-timed-out').orderBy('seq', 'desc').execute()
  assert.equal(recorded.length, before + 1, 'the timeout is audited once')
  assert.equal(recorded[0]!.subject_user_id, anne.id, 'with who it was')
  const notice = await http.follow(timedOut)
  assert.match(notice.text, /You have been signed out/)
  assert.match(notice.text, /20 minutes/)
  const again = await http.get(page.url)
  assert.match(again.headers.get('location')!, /^\/sign-in/)
})

test('"Stay signed in" extends the session on the server', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, 'anne.wilson@example.com')
  clock.advanceSeconds(1100)
  const kept = await http.post(`${url}/session/keep-alive`, { _csrf: csrfFrom(page.text) }, { accept: 'application/json' })
  assert.equal(kept.status, 200)
  clock.advanceSeconds(1100)
  assert.equal((await http.get(page.url)).status, 200)
})

test('after a timeout, "Stay signed in" answers 401 and signing in again asks the provider for the password', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, 'anne.wilson@example.com')
  clock.advanceSeconds(1201)
  // The session that held the CSRF token is gone: the answer is "signed out", not a CSRF error.
  const kept = await http.post(`${url}/session/keep-alive`, { _csrf: csrfFrom(page.text) }, { accept: 'application/json' })
  assert.equal(kept.status, 401)
  assert.deepEqual(JSON.parse(kept.text), { signedIn: false })
  const notice = await http.get(`${url}/timed-out`)
  assert.match(notice.text, /You have been signed out/)
  assert.doesNotMatch(notice.text, /href="\/sign-out"/, 'shown as signed out')
  // Sign-in's own session is still alive; without prompt=login anyone at this computer could walk back in.
  const signIn = await http.get(`${url}/sign-in`)
  assert.equal(new URL(signIn.headers.get('location')!).searchParams.get('prompt'), 'login')
  const next = await http.follow(signIn)
  assert.match(next.text, /name="password"/, 'Sign-in asks for the password')
})

test('a session ends after 12 hours however active it is', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, 'anne.wilson@example.com')
  for (let minutes = 0; minutes < 12 * 60 - 15; minutes += 15) {
    clock.advanceSeconds(15 * 60)
    assert.equal((await http.get(page.url)).status, 200)
  }
  clock.advanceSeconds(15 * 60)
  const ended = await http.get(page.url)
  assert.equal(ended.status, 303)
  assert.match(ended.headers.get('location')!, /^\/sign-in/)
})

test('every form needs the CSRF token', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, 'mary.lawson@example.com')
  const chosen = page.text.match(/value="([0-9a-f-]{36})"/)![1]!
  for (const [path, form] of [['/organisations', { organisationId: chosen }], ['/session/keep-alive', {}]] as const) {
    assert.equal((await http.post(`${url}${path}`, form)).status, 403, `${path} without a token`)
    assert.equal((await http.post(`${url}${path}`, { ...form, _csrf: 'forged' })).status, 403, `${path} with a forged token`)
  }
  const ok = await http.post(`${url}/organisations`, { organisationId: chosen, _csrf: csrfFrom(page.text) })
  assert.equal(ok.status, 303)
})

test('signing out ends the local session and sends the person to end the provider session', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, 'anne.wilson@example.com')
  const signOut = await http.get(`${url}/sign-out`)
  const location = new URL(signOut.headers.get('location')!)
  assert.equal(location.origin + location.pathname, `${services.signin.url}/session/end`)
  assert.ok(location.searchParams.get('id_token_hint'))
  assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${url}/signed-out`)
  assert.match((await http.get(page.url)).headers.get('location')!, /^\/sign-in/, 'the Placements session is gone')
  const confirm = await http.get(location)
  const xsrf = confirm.text.match(/name="xsrf" value="([^"]+)"/)![1]!
  const done = await http.post(`${services.signin.url}/session/end/confirm`, { xsrf, logout: 'yes' })
  assert.equal(done.headers.get('location'), `${url}/signed-out`)
  const signedOut = await http.get(`${url}/signed-out`)
  assert.match(signedOut.text, /You have signed out/)
  const next = await http.follow(await http.get(`${url}/sign-in`))
  assert.match(next.text, /name="password"/, 'the next sign-in asks for the password')
})
