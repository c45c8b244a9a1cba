import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { FakeClock } from '../../platform/clock.ts'
import { HttpSession, csrfFrom } from '../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../test/support/placements.ts'
import { followToCallbackOrPage } from '../../../test/support/oidc-flow.ts'
import { signInToPlacements } from '../../../test/support/placements-flow.ts'
import { insertAccount } from '../../signin/accounts/accounts.ts'
import { hashPassword } from '../../signin/accounts/passwords.ts'
import { demoPassword } from '../../demo/personas.ts'
import { actionContext } from '../context.ts'
import { removeMembership } from '../domain/actions.ts'
import { findUserByEmail } from '../domain/users.ts'
import { passSecondFactor } from '../../../test/support/second-factor.ts'
import { givenOrganisationWithMember, givenPerson } from '../../../test/support/builders.ts'

// Access rules (docs/journeys.md, "Placements: pages and rules"), over real HTTP with both
// services running. The clock is fake so timeouts can be crossed without waiting. Each test
// builds the people it changes (test/support/builders.ts); the demo personas are only
// signed in as, so the tests run in any order.
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
/** The address of a new member of a new organisation, who has a Sign-in account. */
const aMember = async () => (await givenOrganisationWithMember(services)).member.email

async function addSigninAccount(email: string, givenName = 'Pat', familyName = 'Example') {
  await insertAccount(services.signin.context.db, { email, givenName, familyName, passwordHash: await hashPassword(demoPassword) }, new Date())
}

test('a school user with one organisation goes straight to it; the sub and names are bound at the first match by email', async () => {
  const { organisation, member } = await givenOrganisationWithMember(services, { member: { givenName: 'Anne', familyName: 'Wilson' } })
  await db().updateTable('users').set({ given_name: 'Annie' }).where('id', '=', member.user!.id).execute()
  const page = await signInToPlacements(new HttpSession(), url, member.email)
  assert.equal(page.status, 200)
  assert.equal(new URL(page.url).pathname, `/organisations/${organisation.id}`)
  assert.ok(page.text.includes(organisation.name))
  const user = (await findUserByEmail(db(), member.email))!
  assert.equal(user.sign_in_sub, member.accountId)
  assert.equal(user.given_name, 'Anne', 'names come from the identity provider')
  assert.ok(page.text.includes(`<span class="govuk-visually-hidden">Signed in as </span>Anne ${member.familyName}<`), 'the header says whose account is in use')
  assert.ok(user.last_signed_in_at)
})

test('once bound, the sub matches even after the person changes their email at the provider', async () => {
  const { organisation, member } = await givenOrganisationWithMember(services, { kind: 'provider' })
  await signInToPlacements(new HttpSession(), url, member.email)
  const changed = `moved.${member.email.replace('@example.com', '@example.org')}`
  await services.signin.context.db.updateTable('accounts').set({ email: changed, email_normalised: changed })
    .where('id', '=', member.accountId!).execute()
  const page = await signInToPlacements(new HttpSession(), url, changed)
  assert.ok(page.text.includes(organisation.name))
})

test('an email already bound to another sub does not match a new account with that address', async () => {
  const bound = await db().insertInto('users').values({
    email: 'bound@example.com', email_normalised: 'bound@example.com', given_name: 'B', family_name: 'Bound',
    sign_in_sub: 'some-other-identity', last_signed_in_at: null, created_at: new Date()
  }).returning('id').executeTakeFirstOrThrow()
  // A member of an organisation: were the email matched, this person would be let in.
  const { organisation: oakwood } = await givenOrganisationWithMember(services)
  await db().insertInto('memberships').values({ user_id: bound.id, organisation_id: oakwood.id, created_at: new Date() }).execute()
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
  assert.match(page.text, /href="mailto:placements-support@example\.com"/, 'where to get help')
  // No loop: the protected pages send them back here, not round the sign-in again.
  for (const path of ['/organisations', '/support/organisations', '/']) {
    const page = await http.get(`${url}${path}`)
    if (path === '/') {
      assert.notEqual(page.headers.get('location'), '/sign-in', 'the start page does not start another sign-in')
      continue
    }
    assert.equal(page.status, 303, path)
    assert.equal(page.headers.get('location'), '/no-access', `${path} leads straight back to no access`)
  }
  const audit = await db().selectFrom('audit_events').selectAll().where('event', '=', 'sign-in-no-access').execute()
  assert.ok(audit.some((row) => row.email === 'Someone.Else@example.com'))
})

test('a removed member loses access at their next request', async () => {
  const { organisation, member } = await givenOrganisationWithMember(services)
  const colleague = await givenPerson(services, { memberOf: [organisation] })
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, member.email)
  assert.equal(new URL(page.url).pathname, `/organisations/${organisation.id}`)
  assert.equal(await removeMembership(actionContext(services.placements.context), colleague.user!.id, organisation.id, member.user!.id), 'removed')
  const next = await http.get(page.url)
  assert.equal(next.status, 303)
  assert.equal(next.headers.get('location'), '/no-access')
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

  for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', '/%0d%0aLocation:evil', 'javascript:alert(1)', '/.//evil.example/x', '/..//x', '/a/..//x', '/%2e//x']) {
    const session = new HttpSession()
    const page = await signInToPlacements(session, url, await aMember(), { path: `/sign-in?return_to=${encodeURIComponent(evil)}` })
    assert.equal(new URL(page.url).origin, url, evil)
    // An encoded CR/LF stays an (unknown) path on our own site, never a header.
    if (!evil.startsWith('/%')) assert.match(new URL(page.url).pathname, /^\/organisations\//, evil)
  }
})

test('login CSRF: a callback URL is only good in the browser that started that sign-in (state tied to its cookie)', async () => {
  // The attacker signs in as themselves and stops at the callback, with a fresh code and state...
  const attacker = new HttpSession()
  const signInPage = await attacker.follow(await attacker.get(`${url}/sign-in`))
  const afterPassword = await attacker.post(signInPage.url, { _csrf: csrfFrom(signInPage.text), email: 'mary.lawson@example.com', password: demoPassword })
  const callback = await followToCallbackOrPage(attacker, await passSecondFactor(attacker, afterPassword), `${url}/auth/callback`)
  assert.ok(callback.url.startsWith(`${url}/auth/callback?`), `stopped at ${callback.url}`)
  // ...and gets someone else's browser to open it.
  const victim = new HttpSession()
  const landed = await victim.get(callback.url)
  assert.equal(landed.status, 400)
  assert.match(landed.text, /There was a problem signing you in/)
  const home = await victim.get(`${url}/`)
  assert.equal(home.status, 200, 'the victim is not signed in as the attacker')
  assert.match(home.text, /Sign in to Manage school placements/)
})

test('the session id changes at sign-in', async () => {
  const http = new HttpSession()
  // Pages without a form store no session; this one stores a signed-out one (it remembers
  // to ask for the password again), which is what someone fixing a session would plant.
  await http.get(`${url}/timed-out`)
  const before = http.cookie(cookieName, url)
  assert.ok(before, 'an anonymous session exists before sign-in')
  await signInToPlacements(http, url, await aMember())
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
  const email = await aMember()
  const page = await signInToPlacements(http, url, email)
  clock.advanceSeconds(1190)
  assert.equal((await http.get(page.url)).status, 200, 'activity within 20 minutes keeps the session')
  clock.advanceSeconds(1190)
  assert.equal((await http.get(page.url)).status, 200, 'each request restarts the 20 minutes')
  const timeouts = () => db().selectFrom('audit_events').select('id').where('event', '=', 'session-timed-out').execute()
  const before = (await timeouts()).length
  // The session ends between 20 and 21 minutes after the last request (docs/security.md, "sessions").
  clock.advanceSeconds(1261)
  const timedOut = await http.get(page.url)
  assert.equal(timedOut.status, 303)
  assert.equal(timedOut.headers.get('location'), '/timed-out')
  const anne = (await findUserByEmail(db(), email))!
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
  const page = await signInToPlacements(http, url, await aMember())
  clock.advanceSeconds(1100)
  const kept = await http.post(`${url}/session/keep-alive`, { _csrf: csrfFrom(page.text) }, { accept: 'application/json' })
  assert.equal(kept.status, 200)
  clock.advanceSeconds(1100)
  assert.equal((await http.get(page.url)).status, 200)
})

test('after a timeout, "Stay signed in" answers 401 and signing in again asks the provider for the password', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, await aMember())
  clock.advanceSeconds(1261)
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
  const page = await signInToPlacements(http, url, await aMember())
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

test('signing out (a POST with the CSRF token) ends the local session, then the provider session, and checks the state it gets back', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, await aMember())
  assert.match(page.text, /<form method="post" action="\/sign-out"/, 'the header has a sign-out form')
  const signOut = await http.post(`${url}/sign-out`, { _csrf: csrfFrom(page.text) })
  assert.equal(signOut.status, 303)
  const location = new URL(signOut.headers.get('location')!)
  assert.equal(location.origin + location.pathname, `${services.signin.url}/session/end`)
  assert.ok(location.searchParams.get('id_token_hint'))
  assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${url}/signed-out`)
  const state = location.searchParams.get('state')
  assert.ok(state && state.length >= 20, 'a state goes with the logout request')
  assert.match((await http.get(page.url)).headers.get('location')!, /^\/sign-in/, 'the Placements session is gone')
  const audit = await db().selectFrom('audit_events').select('event').where('event', '=', 'sign-out').execute()
  assert.ok(audit.length > 0, 'signing out is audited')

  const confirm = await http.get(location)
  const xsrf = confirm.text.match(/name="xsrf" value="([^"]+)"/)![1]!
  const done = await http.post(`${services.signin.url}/session/end/confirm`, { xsrf, logout: 'yes' })
  const back = new URL(done.headers.get('location')!)
  assert.equal(back.origin + back.pathname, `${url}/signed-out`)
  assert.equal(back.searchParams.get('state'), state, 'the provider returns the state')
  const signedOut = await http.get(back)
  assert.match(signedOut.text, /You have signed out/)
  assert.match(signedOut.text, /signed out of Manage school placements and DfE Sign-in/)
  const next = await http.follow(await http.get(`${url}/sign-in`))
  assert.match(next.text, /name="password"/, 'the next sign-in asks for the password')
})

test('a return to /signed-out without our state does not claim the provider session ended', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, await aMember())
  await http.post(`${url}/sign-out`, { _csrf: csrfFrom(page.text) })
  const forged = await http.get(`${url}/signed-out?state=not-the-state-we-sent`)
  assert.match(forged.text, /You have signed out/)
  assert.doesNotMatch(forged.text, /and DfE Sign-in/)
  const noState = await new HttpSession().get(`${url}/signed-out`)
  assert.doesNotMatch(noState.text, /and DfE Sign-in/)
})

test('no other site can sign a person out: GET /sign-out and GET /timed-out only show pages, and the POSTs need the token', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, await aMember())
  const confirm = await http.get(`${url}/sign-out`)
  assert.equal(confirm.status, 200)
  assert.match(confirm.text, /Sign out of Manage school placements/)
  assert.equal((await http.get(page.url)).status, 200, 'still signed in after GET /sign-out')
  const timedOut = await http.get(`${url}/timed-out`)
  assert.equal(timedOut.status, 303, 'a signed-in person is not shown as timed out')
  assert.equal((await http.get(page.url)).status, 200, 'still signed in after GET /timed-out')
  for (const path of ['/sign-out', '/timed-out']) {
    assert.equal((await http.post(`${url}${path}`, {})).status, 403, `POST ${path} without a token`)
    assert.equal((await http.post(`${url}${path}`, { _csrf: 'forged' })).status, 403, `POST ${path} with a forged token`)
    assert.equal((await http.get(page.url)).status, 200, `still signed in after a forged POST ${path}`)
  }
})

test('the timeout warning reaching zero ends the session (POST /timed-out with the token), and is audited', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, await aMember())
  const count = async () => (await db().selectFrom('audit_events').select('id').where('event', '=', 'session-timed-out').execute()).length
  const before = await count()
  const ended = await http.post(`${url}/timed-out`, { _csrf: csrfFrom(page.text) })
  assert.equal(ended.status, 303)
  assert.equal(ended.headers.get('location'), '/timed-out')
  assert.equal(await count(), before + 1)
  const notice = await http.get(`${url}/timed-out`)
  assert.match(notice.text, /You have been signed out/)
  assert.match((await http.get(page.url)).headers.get('location')!, /^\/sign-in/, 'signed out')
  // The same form sent again from another tab, now without a session: no 403, just the page.
  const again = await http.post(`${url}/timed-out`, { _csrf: csrfFrom(page.text) })
  assert.equal(again.headers.get('location'), '/timed-out')
})
