import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import * as jose from 'jose'
import { csrfFrom, HttpSession } from '../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../test/support/placements.ts'
import { signInToPlacements } from '../../../test/support/placements-flow.ts'
import { demoPassword } from '../../demo/personas.ts'
import { sessionStoreKey } from '../../platform/sessions.ts'
import { insertAccount } from '../../signin/accounts/accounts.ts'
import { hashPassword } from '../../signin/accounts/passwords.ts'

// OpenID Connect Back-Channel Logout 1.0 between the two services, over real HTTP: Sign-in
// posts a signed logout token, Placements checks it (docs/security.md) and ends the session.
let services: TestServices
let url: string
before(async () => {
  services = await startTestServices()
  url = services.placements.url
})
after(() => services.close())

const logoutEvent = { 'http://schemas.openid.net/event/backchannel-logout': {} }
const placementsDb = () => services.placements.context.db

/** A person of their own (a Sign-in account, and a member of a new school), signed in to Placements. */
async function signedInPerson(): Promise<{ http: HttpSession, page: string, sid: string, sub: string, email: string }> {
  const email = `logout-${randomUUID()}@example.com`
  await insertAccount(services.signin.context.db, { email, givenName: 'Lou', familyName: 'Gout', passwordHash: await hashPassword(demoPassword) }, new Date())
  const school = await placementsDb().insertInto('organisations').values({ kind: 'school', name: `Logout School ${randomUUID()}`, urn: String(Math.floor(Math.random() * 1e9)), ukprn: null, provider_code: null, created_at: new Date() })
    .returning('id').executeTakeFirstOrThrow()
  const user = await placementsDb().insertInto('users').values({ email, email_normalised: email, given_name: 'Lou', family_name: 'Gout', sign_in_sub: null, last_signed_in_at: null, created_at: new Date() })
    .returning('id').executeTakeFirstOrThrow()
  await placementsDb().insertInto('memberships').values({ user_id: user.id, organisation_id: school.id, created_at: new Date() }).execute()
  return { ...await signedInBrowser(email), email }
}

/** The same person signed in to Placements in a browser of its own (its own Sign-in session). */
async function signedInBrowser(email: string): Promise<{ http: HttpSession, page: string, sid: string, sub: string }> {
  const http = new HttpSession()
  const page = await signInToPlacements(http, url, email)
  assert.equal(page.status, 200)
  const stored = await services.placements.context.store.get<{ data: { idToken: string } }>(sessionStoreKey(http.cookie('placements-session', url)!))
  const claims = jose.decodeJwt(stored!.data.idToken)
  assert.equal(typeof claims.sid, 'string', 'Sign-in puts sid in the ID token of a client registered for back-channel logout')
  return { http, page: page.url, sid: claims.sid as string, sub: claims.sub! }
}

async function stillSignedIn(person: { http: HttpSession, page: string }): Promise<boolean> {
  return (await person.http.get(person.page)).status === 200
}

/** A logout token signed with Sign-in's own current key, with any claims the test wants. */
async function logoutToken(claims: Record<string, unknown>, options: { key?: jose.CryptoKey | Uint8Array, alg?: string } = {}): Promise<string> {
  const row = await services.signin.context.db.selectFrom('signing_keys').selectAll().where('retired_at', 'is', null).orderBy('created_at', 'desc').executeTakeFirstOrThrow()
  const key = options.key ?? await jose.importJWK(row.private_jwk as jose.JWK, 'RS256')
  const now = Math.floor(Date.now() / 1000)
  return new jose.SignJWT({ iss: services.signin.url, aud: 'manage-school-placements', iat: now, jti: randomUUID(), events: logoutEvent, ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'logout+jwt', ...(options.key ? {} : { kid: row.kid }) })
    .sign(key)
}

function post(token: string | undefined) {
  return fetch(`${url}/auth/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(token === undefined ? {} : { logout_token: token })
  })
}

test('signing out at Sign-in, of every service, ends the Placements session at once', async () => {
  const person = await signedInPerson()
  const other = await signedInPerson()
  // Sign-in's own sign-out page (RP-initiated logout without a service: "sign out of everything").
  const confirm = await person.http.follow(await person.http.get(`${services.signin.url}/session/end`))
  assert.equal(confirm.status, 200)
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.text)?.[1]
  assert.ok(xsrf, 'the confirmation form')
  const action = /action="([^"]+)"/.exec(confirm.text)![1]!
  const done = await person.http.post(new URL(action, services.signin.url), { xsrf, logout: 'yes' })
  assert.ok(done.status < 400, `Sign-in signed out (${done.status})`)
  assert.equal(await stillSignedIn(person), false, 'the Placements session ended without the person going back to Placements')
  assert.equal(await stillSignedIn(other), true, 'another person is not affected')
  const audit = await placementsDb().selectFrom('audit_events').select(['event', 'details']).where('event', '=', 'sign-out').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()
  assert.deepEqual(audit.details, { by: 'identity provider' })
})

test("changing the password at Sign-in in another browser ends the Placements session there (back-channel), not this browser's", async () => {
  const person = await signedInPerson()
  const laptop = await signedInBrowser(person.email)
  assert.notEqual(laptop.sid, person.sid)
  const form = await laptop.http.get(`${services.signin.url}/account/change-password`)
  assert.equal(form.status, 200)
  const newPassword = 'another-long-passphrase-2026'
  const changed = await laptop.http.post(`${services.signin.url}/account/change-password`, {
    _csrf: csrfFrom(form.text), currentPassword: demoPassword, password: newPassword, confirmPassword: newPassword
  })
  assert.equal(changed.status, 303)
  assert.equal(await stillSignedIn(person), false, 'the other browser is signed out of Placements at once')
  assert.equal(await stillSignedIn(laptop), true, 'the browser that changed the password stays signed in')
  assert.equal((await person.http.get(`${services.signin.url}/account`)).status, 401, 'and out of Sign-in')
})

test('"Sign out of every device and service" at Sign-in ends every Placements session of the account', async () => {
  const person = await signedInPerson()
  const laptop = await signedInBrowser(person.email)
  const other = await signedInPerson()
  const account = await laptop.http.get(`${services.signin.url}/account`)
  const done = await laptop.http.post(`${services.signin.url}/account/sign-out-everywhere`, { _csrf: csrfFrom(account.text) })
  assert.equal(done.status, 303)
  assert.equal(await stillSignedIn(person), false)
  assert.equal(await stillSignedIn(laptop), false)
  assert.equal(await stillSignedIn(other), true, 'another person is not affected')
})

test('a valid logout token ends only the session that began with its sid, once', async () => {
  const person = await signedInPerson()
  const other = await signedInPerson()
  const token = await logoutToken({ sub: person.sub, sid: person.sid })
  const response = await post(token)
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('cache-control'), 'no-store')
  assert.equal(await stillSignedIn(person), false)
  assert.equal(await stillSignedIn(other), true)
  assert.equal((await post(token)).status, 400, 'the same token again (its jti is used)')
})

test('a logout token that fails any check is refused with 400 and ends nothing', async () => {
  const person = await signedInPerson()
  const { privateKey: strangerKey } = await jose.generateKeyPair('RS256')
  const cases: Record<string, () => Promise<string | undefined>> = {
    'no token': async () => undefined,
    'not a JWT': async () => 'not-a-token',
    'signed by another key': () => logoutToken({ sid: person.sid }, { key: strangerKey }),
    'a symmetric algorithm': () => logoutToken({ sid: person.sid }, { key: new TextEncoder().encode('x'.repeat(32)), alg: 'HS256' }),
    'another issuer': () => logoutToken({ sid: person.sid, iss: 'https://elsewhere.example' }),
    'another audience': () => logoutToken({ sid: person.sid, aud: 'another-service' }),
    'no logout event': () => logoutToken({ sid: person.sid, events: { 'http://schemas.openid.net/event/other': {} } }),
    'a nonce': () => logoutToken({ sid: person.sid, nonce: 'n' }),
    'no sid': () => logoutToken({ sub: person.sub }),
    'no jti': () => logoutToken({ sid: person.sid, jti: undefined }),
    'issued an hour ago': () => logoutToken({ sid: person.sid, iat: Math.floor(Date.now() / 1000) - 3600 })
  }
  for (const [name, make] of Object.entries(cases)) {
    const response = await post(await make())
    assert.equal(response.status, 400, name)
    assert.equal((await response.json() as { error: string }).error, 'invalid_request', name)
  }
  assert.equal(await stillSignedIn(person), true, 'no refused token ended the session')
})

test('50 copies of one logout token at once: exactly one is accepted', async () => {
  const person = await signedInPerson()
  const token = await logoutToken({ sid: person.sid })
  const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await post(token)).status))
  assert.equal(statuses.filter((status) => status === 200).length, 1, statuses.join(' '))
  assert.equal(statuses.filter((status) => status === 400).length, 49)
  assert.equal(await stillSignedIn(person), false)
})
