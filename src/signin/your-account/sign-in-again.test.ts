import assert from 'node:assert/strict'
import { test } from 'node:test'
import { csrfFrom, HttpSession } from '../../../test/support/http-client.ts'
import { signinTestHarness } from '../../../test/support/signin.ts'
import { addAccount, fieldError, pageTitle, startJourney } from '../../../test/support/signin-pages.ts'
import { followToCallbackOrPage, submit } from '../../../test/support/oidc-flow.ts'
import { emailedCode, signedInBrowser, signInAgain } from '../../../test/support/your-account.ts'
import { addConfirmedApp, appCodeAt, newAppSecret } from '../accounts/authenticator-app.ts'
import { findAccountById } from '../accounts/accounts.ts'
import { appMessages } from '../journeys/second-factor/checks.ts'
import { safeReturnPath } from './sign-in-again.ts'

// Signing in again before a change in "Your account" (docs/security.md "your account"):
// the password and the usual second factor, with the sign-in's own lockouts, then back
// to the change page asked for.
const { signin, config, clock, redirectUri } = await signinTestHarness()

let people = 0
async function person(name: string) {
  const email = `${name}.${++people}@example.com`
  const password = `${name}-password-long-enough`
  const account = await addAccount(signin.context.db, { email, password, givenName: 'Ada', familyName: 'Lovelace' }, clock.now())
  return { email, password, id: account.id }
}

/** Signed in, then 16 minutes pass: a change now needs signing in again. */
async function staleBrowser(who: { email: string, password: string }): Promise<HttpSession> {
  const http = await signedInBrowser(config, redirectUri, who)
  clock.advanceSeconds(16 * 60)
  return http
}

test('the return path is a path under /account on this site, or else /account', () => {
  assert.equal(safeReturnPath('/account/change-name'), '/account/change-name')
  assert.equal(safeReturnPath('/account/change-email/check-your-email'), '/account/change-email/check-your-email')
  // A passkey's remove page holds its id: that one shape, with a lower-case UUID, and nothing else.
  const id = '0b6c1f3e-8a2d-4c6b-9e7f-1a2b3c4d5e6f'
  assert.equal(safeReturnPath(`/account/passkeys/${id}/remove`), `/account/passkeys/${id}/remove`)
  for (const bad of [`/account/passkeys/${id}`, `/account/passkeys/${id}/remove/x`, `/account/passkeys/${id.toUpperCase()}/remove`, `/account/passkeys/${id}x/remove`,
    `/account/passkeys/${id.slice(0, -1)}/remove`, `/account/passkeys//${id}/remove`, `/account/passkeys/../${id}/remove`, `/account/sign-in-again/${id}/remove`,
    `/account/passkeys/${id}/remove?x=1`, `/account/passkeys/${id}/remove/`, `//account/passkeys/${id}/remove`]) {
    assert.equal(safeReturnPath(bad), '/account', bad)
  }
  for (const bad of ['//evil.example/account', 'https://evil.example/account/change-name', '/account/../admin', '/account/change-name?x=1',
    '/account\\evil', '/accounts', '/account/sign-in-again', '/account/sign-in-again/email-code', '/help', '', undefined, ['a'], '/account/%2e%2e', `/account/${'a'.repeat(120)}`]) {
    assert.equal(safeReturnPath(bad), '/account', String(bad))
  }
})

test('an old sign-in: the password and an emailed code, then back to the change page asked for, which now works', async () => {
  const who = await person('again')
  const http = await staleBrowser(who)
  const sent = await http.get(`${signin.url}/account/change-name`)
  assert.equal(sent.status, 303)
  const page = await http.get(new URL(sent.headers.get('location')!, signin.url))
  assert.equal(page.status, 200)
  assert.equal(pageTitle(page.text), 'Sign in again to change your account – DfE Sign-in – GOV.UK')

  const empty = await http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: '' })
  assert.equal(empty.status, 400)
  assert.equal(fieldError(empty.text, 'password'), 'Enter your password')
  const wrong = await http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: 'not-the-password' })
  assert.equal(wrong.status, 400)
  assert.equal(fieldError(wrong.text, 'password'), 'Your password is not correct')
  // The factor pages are not reachable before the password.
  const early = await http.get(`${signin.url}/account/sign-in-again/email-code`)
  assert.equal(early.headers.get('location'), '/account/sign-in-again')

  const answer = await http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: who.password })
  assert.equal(answer.headers.get('location'), '/account/sign-in-again/email-code')
  const email = await signin.latestEmail(who.email)
  assert.match(email!.subject, /^\d{6} is your DfE Sign-in code to change your account$/)
  const codePage = await http.get(`${signin.url}/account/sign-in-again/email-code`)
  assert.equal(pageTitle(codePage.text), 'Check your email – DfE Sign-in – GOV.UK')
  const bad = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: '12' })
  assert.equal(bad.status, 400)
  const back = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: await emailedCode(signin, who.email) })
  assert.equal(back.status, 303)
  assert.equal(back.headers.get('location'), '/account/change-name')
  const form = await http.get(`${signin.url}/account/change-name`)
  assert.equal(form.status, 200)
  const saved = await http.post(`${signin.url}/account/change-name`, { _csrf: csrfFrom(form.text), givenName: 'Grace', familyName: 'Hopper' })
  assert.equal(saved.status, 303)
  assert.equal((await findAccountById(signin.context.db, who.id))!.given_name, 'Grace')
  const audit = await signin.context.db.selectFrom('audit_events').select(['event', 'outcome', 'details']).where('account_id', '=', who.id)
    .where('event', 'in', ['re-authenticated', 're-authentication-failed']).execute()
  assert.deepEqual(audit.map((row) => `${row.event}:${row.outcome}`).sort(), ['re-authenticated:success', 're-authentication-failed:failure'])
  assert.equal(audit.find((row) => row.event === 're-authenticated')!.details.factor, 'email-code')
  // Recent activity shows it, as a sign-in to Your account.
  assert.match((await http.get(`${signin.url}/account`)).text, /Code sent by email[\s\S]*?Your account \(signed in again to make a change\)/)
  // Good for 15 minutes, then asked again.
  clock.advanceSeconds(16 * 60)
  assert.equal((await http.get(`${signin.url}/account/change-name`)).status, 303)
})

test('an account with an authenticator app is asked for its app, and may choose another way', async () => {
  const who = await person('again.app')
  const secret = newAppSecret()
  await addConfirmedApp(signin.context.db, who.id, secret, signin.context.codeKey, clock.now())
  const http = new HttpSession()
  const { page: start } = await startJourney(http, config, redirectUri)
  const toApp = await submit(http, start, start.url, who)
  const appPage = await http.get(new URL(toApp.headers.get('location')!, toApp.url))
  const signedIn = await http.post(appPage.url, { _csrf: csrfFrom(appPage.text), code: appCodeAt(secret, clock.now()) })
  assert.ok((await followToCallbackOrPage(http, signedIn, redirectUri)).url.startsWith(redirectUri))
  clock.advanceSeconds(16 * 60)

  const page = await http.get(`${signin.url}/account/sign-in-again?return=/account/change-password`)
  const answer = await http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: who.password })
  assert.equal(answer.headers.get('location'), '/account/sign-in-again/authenticator-app-code')
  const codePage = await http.get(`${signin.url}/account/sign-in-again/authenticator-app-code`)
  assert.match(codePage.text, /href="\/account\/sign-in-again\/choose-factor"/)
  const current = appCodeAt(secret, clock.now())
  const wrong = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: current === '000000' ? '111111' : '000000' })
  assert.equal(fieldError(wrong.text, 'code'), appMessages.incorrect)
  const choose = await http.get(`${signin.url}/account/sign-in-again/choose-factor`)
  assert.equal(choose.status, 200)
  const none = await http.post(choose.url, { _csrf: csrfFrom(choose.text), factor: 'passkey' })
  assert.equal(none.status, 400)
  const back = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: current })
  assert.equal(back.headers.get('location'), '/account/change-password')
})

test('the app lockout is shared: 5 wrong app codes when signing in again lock the app for sign-in too', async () => {
  const who = await person('again.applock')
  const secret = newAppSecret()
  const http = await signedInBrowser(config, redirectUri, who)
  await addConfirmedApp(signin.context.db, who.id, secret, signin.context.codeKey, clock.now())
  clock.advanceSeconds(16 * 60)
  const page = await http.get(`${signin.url}/account/sign-in-again`)
  await http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: who.password })
  const codePage = await http.get(`${signin.url}/account/sign-in-again/authenticator-app-code`)
  const current = appCodeAt(secret, clock.now())
  const wrongCode = current === '000000' ? '111111' : '000000'
  const answers = await Promise.all(Array.from({ length: 20 }, () => http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: wrongCode })))
  assert.equal(answers.filter((a) => a.status === 400).length, 4)
  const right = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: current })
  assert.equal(right.status, 429, 'the right code is refused while locked')
  // A fresh sign-in with the app is locked as well.
  const fresh = new HttpSession()
  const { page: start } = await startJourney(fresh, config, redirectUri)
  const toApp = await submit(fresh, start, start.url, who)
  const appPage = await fresh.get(new URL(toApp.headers.get('location')!, toApp.url))
  assert.equal((await fresh.post(appPage.url, { _csrf: csrfFrom(appPage.text), code: current })).status, 429)
})

test('the password lockout is shared: 50 wrong passwords at once when signing in again check at most 5, then sign-in is locked too', async () => {
  const who = await person('again.lock')
  const http = await staleBrowser(who)
  const page = await http.get(`${signin.url}/account/sign-in-again?return=/account/change-name`)
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: `wrong-${i}` })))
  const statuses = answers.map((a) => a.status)
  assert.ok(statuses.every((s) => s === 400 || s === 429), statuses.join(','))
  assert.equal(statuses.filter((s) => s === 400).length, 4)
  const checked = await signin.context.db.selectFrom('audit_events').select('id').where('account_id', '=', who.id).where('event', '=', 're-authentication-failed').execute()
  assert.equal(checked.length, 5)
  const right = await http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: who.password })
  assert.equal(right.status, 429)
  const fresh = new HttpSession()
  const { page: start } = await startJourney(fresh, config, redirectUri)
  assert.equal((await submit(fresh, start, start.url, who)).status, 429)
})

test('a return path from elsewhere is not followed: a person signing in again goes back to /account', async () => {
  const who = await person('again.evil')
  const http = await staleBrowser(who)
  const page = await http.get(`${signin.url}/account/sign-in-again?return=${encodeURIComponent('//evil.example/account')}`)
  const back = await signInAgain(http, signin, page, who)
  assert.equal(back.headers.get('location'), '/account')
})

test('signing in again is for this session only: another browser of the same account still has to', async () => {
  const who = await person('again.other')
  const other = await signedInBrowser(config, redirectUri, who)
  const http = await signedInBrowser(config, redirectUri, who)
  clock.advanceSeconds(16 * 60)
  const page = await http.get(`${signin.url}/account/sign-in-again?return=/account/change-name`)
  assert.equal((await signInAgain(http, signin, page, who)).headers.get('location'), '/account/change-name')
  assert.equal((await other.get(`${signin.url}/account/change-name`)).status, 303)
  assert.equal((await http.get(`${signin.url}/account/change-name`)).status, 200)
})
