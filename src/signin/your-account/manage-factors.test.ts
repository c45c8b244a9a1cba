import assert from 'node:assert/strict'
import { test } from 'node:test'
import { csrfFrom, HttpSession } from '../../../test/support/http-client.ts'
import { followToCallbackOrPage, submit } from '../../../test/support/oidc-flow.ts'
import { signinTestHarness } from '../../../test/support/signin.ts'
import { addAccount, decodeEntities, fieldError, pageTitle, startJourney, visibleText } from '../../../test/support/signin-pages.ts'
import { signedInBrowser } from '../../../test/support/your-account.ts'
import { addConfirmedApp, appCodeAt, newAppSecret } from '../accounts/authenticator-app.ts'
import { secondFactorsOf } from '../accounts/factors.ts'
import { addKnownRecoveryCodes, normaliseRecoveryCode, useRecoveryCode } from '../accounts/recovery-codes.ts'
import { appMessages } from '../journeys/second-factor/checks.ts'

// Managing second factors from "Your account" (docs/security.md "your account").
const { signin, config, clock, redirectUri } = await signinTestHarness()

let people = 0
async function person(name: string, options: { app?: boolean } = {}) {
  const email = `${name}.${++people}@example.com`
  const password = `${name}-password-long-enough`
  const account = await addAccount(signin.context.db, { email, password, givenName: 'Ada', familyName: 'Lovelace' }, clock.now())
  const secret = newAppSecret()
  const oldCodes = ['old23-aaaa2', 'old23-aaaa3']
  if (options.app) {
    await addConfirmedApp(signin.context.db, account.id, secret, signin.context.codeKey, clock.now())
    await addKnownRecoveryCodes(signin.context.db, account.id, oldCodes, signin.context.codeKey, clock.now())
  }
  return { email, password, id: account.id, secret, oldCodes }
}

/** Signs in with the authenticator app (the app level): the browser may then change the app at once. */
async function signedInWithApp(who: { email: string, password: string, secret: string }): Promise<HttpSession> {
  const http = new HttpSession()
  const { page } = await startJourney(http, config, redirectUri)
  const toApp = await submit(http, page, page.url, who)
  const appPage = await http.get(new URL(toApp.headers.get('location')!, toApp.url))
  assert.match(appPage.url, /authenticator-app-code$/)
  const answer = await http.post(appPage.url, { _csrf: csrfFrom(appPage.text), code: appCodeAt(who.secret, clock.now()) })
  assert.ok((await followToCallbackOrPage(http, answer, redirectUri)).url.startsWith(redirectUri))
  return http
}

function secretOn(html: string): string {
  return decodeEntities(/id="secret-key"><code lang="en">([^<]+)<\/code>/.exec(html)![1]!).replace(/\s/g, '')
}

async function lastEmail(to: string) {
  return (await signin.latestEmail(to))!
}

test('set up an authenticator app from Your account: confirmed with its code, then 10 recovery codes shown once, told by email', async () => {
  const who = await person('setup')
  const http = await signedInBrowser(config, redirectUri, who)
  assert.match((await http.get(`${signin.url}/account`)).text, /href="\/account\/authenticator-app">\s*Set up/)
  const page = await http.get(`${signin.url}/account/authenticator-app`)
  assert.equal(page.status, 200)
  assert.equal(pageTitle(page.text), 'Set up an authenticator app – DfE Sign-in – GOV.UK')
  const secret = secretOn(page.text)
  const empty = await http.post(page.url, { _csrf: csrfFrom(page.text), code: '' })
  assert.equal(fieldError(empty.text, 'code'), 'Enter the code')
  assert.equal(secretOn(empty.text), secret, 'the same key while setting up')
  const code = appCodeAt(secret, clock.now())
  const wrong = await http.post(page.url, { _csrf: csrfFrom(page.text), code: code === '000000' ? '111111' : '000000' })
  assert.equal(fieldError(wrong.text, 'code'), appMessages.incorrect)
  assert.deepEqual(await secondFactorsOf(signin.context.db, who.id), ['email-code'], 'nothing set up before the code')
  const done = await http.post(page.url, { _csrf: csrfFrom(page.text), code })
  assert.equal(done.headers.get('location'), '/account/recovery-codes/new')
  const codes = await http.get(`${signin.url}/account/recovery-codes/new`)
  assert.equal(pageTitle(codes.text), 'Save your recovery codes – DfE Sign-in – GOV.UK')
  const shown = [...codes.text.matchAll(/<li><code lang="en">([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]!)
  assert.equal(shown.length, 10)
  const saved = await http.post(codes.url, { _csrf: csrfFrom(codes.text) })
  assert.equal(saved.headers.get('location'), '/account')
  assert.match(visibleText((await http.get(`${signin.url}/account`)).text), /Your authenticator app has been set up/)
  assert.equal((await http.get(`${signin.url}/account/recovery-codes/new`)).headers.get('location'), '/account', 'shown once')
  assert.deepEqual(await secondFactorsOf(signin.context.db, who.id), ['authenticator-app', 'email-code', 'recovery-code'])
  assert.equal((await lastEmail(who.email)).subject, 'How you sign in to DfE Sign-in has changed')
  const result = await useRecoveryCode(signin.context.db, signin.context.store, signin.context.codeKey, who.id, normaliseRecoveryCode(shown[0]!)!, clock.now())
  assert.equal(result.result, 'correct')
})

test('an account with an app, signed in with an emailed code, must sign in again with the app or a recovery code to change it', async () => {
  const who = await person('weak', { app: true })
  const http = await signedInBrowser(config, redirectUri, who)
  for (const path of ['/account/authenticator-app', '/account/authenticator-app/remove', '/account/recovery-codes']) {
    const answer = await http.get(`${signin.url}${path}`)
    assert.equal(answer.status, 303, path)
    assert.equal(answer.headers.get('location'), `/account/sign-in-again?return=${encodeURIComponent(path)}&with=app`)
  }
  const post = await http.post(`${signin.url}/account/authenticator-app/remove`, { _csrf: csrfFrom((await http.get(`${signin.url}/account`)).text) })
  assert.equal(post.status, 303)
  assert.deepEqual(await secondFactorsOf(signin.context.db, who.id), ['authenticator-app', 'email-code', 'recovery-code'], 'nothing removed')
  // Signing in again offers the app and recovery codes only, never the emailed code.
  const page = await http.get(`${signin.url}/account/sign-in-again?return=/account/recovery-codes&with=app`)
  assert.match(visibleText(page.text), /you need your authenticator app or one of your recovery codes/)
  await http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: who.password })
  const choose = await http.get(`${signin.url}/account/sign-in-again/choose-factor`)
  assert.doesNotMatch(choose.text, /value="email-code"/)
  const viaEmail = await http.post(choose.url, { _csrf: csrfFrom(choose.text), factor: 'email-code' })
  assert.equal(viaEmail.status, 400)
  const recovery = await http.get(`${signin.url}/account/sign-in-again/recovery-code`)
  const back = await http.post(recovery.url, { _csrf: csrfFrom(recovery.text), code: who.oldCodes[0]! })
  assert.equal(back.headers.get('location'), '/account/recovery-codes')
  assert.equal((await http.get(`${signin.url}/account/recovery-codes`)).status, 200)
})

test('a sign-in with a recovery code counts as one with the app: new recovery codes need no signing in again', async () => {
  const who = await person('viacode', { app: true })
  const http = new HttpSession()
  const { page } = await startJourney(http, config, redirectUri)
  const toApp = await submit(http, page, page.url, { email: who.email, password: who.password })
  const appPage = await http.get(new URL(toApp.headers.get('location')!, toApp.url))
  const chosen = await http.post(appPage.url.replace(/authenticator-app-code$/, 'choose-factor'), { _csrf: csrfFrom(appPage.text), factor: 'recovery-code' })
  const codePage = await http.get(new URL(chosen.headers.get('location')!, chosen.url))
  const used = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: who.oldCodes[0]! })
  const usedPage = await http.get(new URL(used.headers.get('location')!, used.url))
  const carryOn = await http.post(usedPage.url, { _csrf: csrfFrom(usedPage.text), next: 'continue' })
  assert.ok((await followToCallbackOrPage(http, carryOn, redirectUri)).url.startsWith(redirectUri))
  assert.equal((await http.get(`${signin.url}/account/recovery-codes`)).status, 200)
})

test('replace the app: the old one works until the new one is confirmed, then the old app and recovery codes stop', async () => {
  const who = await person('replace', { app: true })
  const http = await signedInWithApp(who)
  const page = await http.get(`${signin.url}/account/authenticator-app`)
  assert.equal(pageTitle(page.text), 'Replace your authenticator app – DfE Sign-in – GOV.UK')
  const before = await signin.context.db.selectFrom('account_factors').select('id').where('account_id', '=', who.id).where('confirmed_at', 'is not', null).execute()
  assert.equal(before.length, 1, 'the old app is still the one in use')
  const secret = secretOn(page.text)
  const done = await http.post(page.url, { _csrf: csrfFrom(page.text), code: appCodeAt(secret, clock.now()) })
  assert.equal(done.headers.get('location'), '/account/recovery-codes/new')
  const apps = await signin.context.db.selectFrom('account_factors').select('id').where('account_id', '=', who.id).execute()
  assert.equal(apps.length, 1)
  assert.notEqual(apps[0]!.id, before[0]!.id)
  const old = await useRecoveryCode(signin.context.db, signin.context.store, signin.context.codeKey, who.id, normaliseRecoveryCode(who.oldCodes[1]!)!, clock.now())
  assert.equal(old.result, 'incorrect', 'old recovery codes no longer work')
  assert.match((await lastEmail(who.email)).body, /replaced with a new one/)
  const audit = await signin.context.db.selectFrom('audit_events').select('event').where('account_id', '=', who.id).where('event', '=', 'authenticator-app-replaced').execute()
  assert.equal(audit.length, 1)
})

test('remove the app: back to emailed codes, recovery codes gone, told by email', async () => {
  const who = await person('remove', { app: true })
  const http = await signedInWithApp(who)
  const page = await http.get(`${signin.url}/account/authenticator-app/remove`)
  assert.equal(pageTitle(page.text), 'Are you sure you want to remove your authenticator app? – DfE Sign-in – GOV.UK')
  const done = await http.post(page.url, { _csrf: csrfFrom(page.text) })
  assert.equal(done.headers.get('location'), '/account')
  assert.deepEqual(await secondFactorsOf(signin.context.db, who.id), ['email-code'])
  const codes = await signin.context.db.selectFrom('recovery_codes').select('id').where('account_id', '=', who.id).execute()
  assert.equal(codes.length, 0)
  assert.match((await lastEmail(who.email)).body, /authenticator app was removed/)
  assert.match(visibleText((await http.get(`${signin.url}/account`)).text), /Your authenticator app has been removed/)
  assert.equal((await http.get(`${signin.url}/account/authenticator-app/remove`)).headers.get('location'), '/account', 'nothing left to remove')
})

test('new recovery codes: shown once, the old ones stop at once, told by email', async () => {
  const who = await person('regen', { app: true })
  const http = await signedInWithApp(who)
  const page = await http.get(`${signin.url}/account/recovery-codes`)
  assert.equal(pageTitle(page.text), 'Get new recovery codes – DfE Sign-in – GOV.UK')
  const done = await http.post(page.url, { _csrf: csrfFrom(page.text) })
  assert.equal(done.headers.get('location'), '/account/recovery-codes/new')
  const old = await useRecoveryCode(signin.context.db, signin.context.store, signin.context.codeKey, who.id, normaliseRecoveryCode(who.oldCodes[0]!)!, clock.now())
  assert.equal(old.result, 'incorrect')
  const codes = await http.get(`${signin.url}/account/recovery-codes/new`)
  const shown = [...codes.text.matchAll(/<li><code lang="en">([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]!)
  assert.equal(shown.length, 10)
  assert.equal((await useRecoveryCode(signin.context.db, signin.context.store, signin.context.codeKey, who.id, normaliseRecoveryCode(shown[3]!)!, clock.now())).result, 'correct')
  await http.post(codes.url, { _csrf: csrfFrom(codes.text) })
  assert.match(visibleText((await http.get(`${signin.url}/account`)).text), /You have new recovery codes/)
  assert.match((await lastEmail(who.email)).body, /10 new recovery codes/)
})
