import assert from 'node:assert/strict'
import { test } from 'node:test'
import { csrfFrom, type HttpSession } from '../../../test/support/http-client.ts'
import { signinTestHarness } from '../../../test/support/signin.ts'
import { errorSummary, pageTitle } from '../../../test/support/signin-pages.ts'
import { SoftPasskey } from '../../../test/support/soft-passkey.ts'
import { signedInBrowser } from '../../../test/support/your-account.ts'
import { signinRelyingParty } from '../accounts/passkey-actions.ts'
import { authenticationOptions } from '../accounts/passkeys.ts'
import { passkeyMessages } from '../journeys/passkeys/routes.ts'

// Signing in again in "Your account" with a passkey (docs/security.md "your account:
// signing in again", ADR 17): offered first when the account has one, alone (no password),
// checked as at sign-in (challenge taken once, bound to this account and Sign-in session;
// user verification; origin), and strong enough to add another passkey afterwards.
const { signin, config, clock, redirectUri, person } = await signinTestHarness({ serviceUrl: 'http://localhost:4996' })
const origin = new URL(signin.context.config.publicUrl).origin

/** Signed in with a password and an emailed code, a first passkey added, then 16 minutes pass. */
async function stalePersonWithPasskey(name: string) {
  const { email, password, id } = await person(name)
  const http = await signedInBrowser(config, redirectUri, { email, password })
  const key = new SoftPasskey({ signCount: 1 })
  const page = await http.get(`${signin.url}/account/passkeys/add`)
  assert.equal(page.status, 200, `add passkey answered ${page.status} ${page.headers.get('location')}`)
  const options = JSON.parse((await http.get(`${signin.url}/account/passkeys/add/options`)).text)
  const added = await http.post(`${signin.url}/account/passkeys/add`, { _csrf: csrfFrom(page.text), name: 'Laptop', response: JSON.stringify(key.register(options, { origin })) })
  assert.equal(added.headers.get('location'), '/account/passkeys/recovery-codes')
  clock.advanceSeconds(16 * 60)
  return { email, id, http, key }
}

/** Opens the sign-in again page on the way to `path`, and asks for a passkey challenge there. */
async function signInAgainPage(http: HttpSession, path: string) {
  const sent = await http.get(`${signin.url}${path}`)
  assert.equal(sent.status, 303, `${path} answered ${sent.status}`)
  const page = await http.get(new URL(sent.headers.get('location')!, signin.url))
  assert.equal(page.status, 200)
  const options = JSON.parse((await http.get(`${signin.url}/account/sign-in-again/passkey/options`)).text)
  return { page, options }
}

test('signing in again with a passkey alone goes back to the change page, and another passkey may then be added', async () => {
  const who = await stalePersonWithPasskey('again.passkey')
  const { page, options } = await signInAgainPage(who.http, '/account/passkeys/add')
  assert.equal(pageTitle(page.text), 'Sign in again to change your account – DfE Sign-in – GOV.UK')
  assert.match(page.text, /action="\/account\/sign-in-again\/passkey"[^>]*data-passkey="authenticate"[^>]*data-passkey-section hidden/, 'the passkey is offered, shown only by the script')
  assert.match(page.text, /Use your passkey, or enter your password/)
  assert.deepEqual(options.allowCredentials.map((credential: { id: string }) => credential.id), [who.key.id])
  assert.equal(options.userVerification, 'required')

  const back = await who.http.post(`${signin.url}/account/sign-in-again/passkey`, { _csrf: csrfFrom(page.text), response: JSON.stringify(who.key.authenticate(options, { origin })) })
  assert.equal(back.status, 303)
  assert.equal(back.headers.get('location'), '/account/passkeys/add')

  // The re-authentication was with a passkey: adding a second one is allowed (no 403).
  const second = new SoftPasskey()
  const addPage = await who.http.get(`${signin.url}/account/passkeys/add`)
  assert.equal(addPage.status, 200)
  const addOptions = JSON.parse((await who.http.get(`${signin.url}/account/passkeys/add/options`)).text)
  const added = await who.http.post(`${signin.url}/account/passkeys/add`, { _csrf: csrfFrom(addPage.text), name: 'Phone', response: JSON.stringify(second.register(addOptions, { origin })) })
  assert.equal(added.headers.get('location'), '/account')
  const keys = await signin.context.db.selectFrom('account_factors').select('label').where('account_id', '=', who.id).where('kind', '=', 'passkey').execute()
  assert.deepEqual(keys.map((row) => row.label).sort(), ['Laptop', 'Phone'])

  const audit = await signin.context.db.selectFrom('audit_events').select(['event', 'outcome', 'details']).where('account_id', '=', who.id)
    .where('event', 'in', ['second-factor', 're-authenticated']).execute()
  assert.deepEqual(audit.filter((row) => row.details.factor === 'passkey').map((row) => [row.event, row.outcome, row.details.factor, row.details.purpose ?? null]).sort(),
    [['re-authenticated', 'success', 'passkey', null], ['second-factor', 'success', 'passkey', 're-authenticate']])
})

test('a replayed answer, one from another origin or without user verification, and one from another Sign-in session are refused', async () => {
  const who = await stalePersonWithPasskey('again.refused')
  const first = await signInAgainPage(who.http, '/account/change-name')
  const answer = JSON.stringify(who.key.authenticate(first.options, { origin }))
  const ok = await who.http.post(`${signin.url}/account/sign-in-again/passkey`, { _csrf: csrfFrom(first.page.text), response: answer })
  assert.equal(ok.headers.get('location'), '/account/change-name')

  clock.advanceSeconds(16 * 60)
  const again = await signInAgainPage(who.http, '/account/change-name')
  const post = (response: string) => who.http.post(`${signin.url}/account/sign-in-again/passkey`, { _csrf: csrfFrom(again.page.text), response })
  const replayed = await post(answer)
  assert.equal(replayed.status, 400)
  assert.deepEqual(errorSummary(replayed.text), [{ href: '#passkey', text: passkeyMessages.challenge }])

  const phishing = await post(JSON.stringify(who.key.authenticate(again.options, { origin: 'https://signin.evil.example' })))
  assert.equal(phishing.status, 400)
  assert.deepEqual(errorSummary(phishing.text), [{ href: '#passkey', text: passkeyMessages.invalid }])
  const fresh = JSON.parse((await who.http.get(`${signin.url}/account/sign-in-again/passkey/options`)).text)
  const unverified = await post(JSON.stringify(who.key.authenticate(fresh, { origin, userVerified: false })))
  assert.equal(unverified.status, 400)
  assert.deepEqual(errorSummary(unverified.text), [{ href: '#passkey', text: passkeyMessages.invalid }])

  // A challenge made for another of this person's Sign-in sessions (another browser), or for a passkey sign-in, cannot be answered here.
  const rp = signinRelyingParty(signin.context)
  const otherSession = await authenticationOptions(signin.context.db, signin.context.store, rp, `sign-in-again:${who.id}:another-session`, who.id)
  const crossed = await post(JSON.stringify(who.key.authenticate(otherSession, { origin })))
  assert.equal(crossed.status, 400)
  assert.deepEqual(errorSummary(crossed.text), [{ href: '#passkey', text: passkeyMessages.challenge }])
  const elsewhere = await authenticationOptions(signin.context.db, signin.context.store, rp, 'interaction:some-sign-in')
  const signInChallenge = await post(JSON.stringify(who.key.authenticate(elsewhere, { origin })))
  assert.equal(signInChallenge.status, 400)
  assert.deepEqual(errorSummary(signInChallenge.text), [{ href: '#passkey', text: passkeyMessages.challenge }])

  // Still not signed in again: the change page sends the person back here.
  assert.equal((await who.http.get(`${signin.url}/account/change-name`)).status, 303)
  const failures = await signin.context.db.selectFrom('audit_events').select('details').where('account_id', '=', who.id)
    .where('event', '=', 'second-factor').where('outcome', '=', 'failure').execute()
  assert.deepEqual(failures.map((row) => `${row.details.result}:${row.details.purpose}`).sort(),
    ['challenge:re-authenticate', 'challenge:re-authenticate', 'challenge:re-authenticate', 'invalid:re-authenticate', 'invalid:re-authenticate'])
})

test('50 parallel answers to one challenge: exactly one signs in again', async () => {
  const who = await stalePersonWithPasskey('again.parallel')
  const { page, options } = await signInAgainPage(who.http, '/account/change-name')
  const answer = JSON.stringify(who.key.authenticate(options, { origin }))
  const answers = await Promise.all(Array.from({ length: 50 }, () =>
    who.http.post(`${signin.url}/account/sign-in-again/passkey`, { _csrf: csrfFrom(page.text), response: answer })))
  const back = answers.filter((reply) => reply.status === 303 && reply.headers.get('location') === '/account/change-name')
  assert.equal(back.length, 1, answers.map((reply) => `${reply.status} ${reply.headers.get('location') ?? ''}`).join(','))
  // The others: the challenge was already taken (400), or the winner ended this sign-in again first (303 to its start).
  assert.ok(answers.every((reply) => reply.status === 400 || reply.status === 303))
  const successes = await signin.context.db.selectFrom('audit_events').select('id').where('account_id', '=', who.id)
    .where('event', '=', 're-authenticated').execute()
  assert.equal(successes.length, 1)
})
