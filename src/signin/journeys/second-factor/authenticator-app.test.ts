import assert from 'node:assert/strict'
import { test } from 'node:test'
import { csrfFrom, HttpSession, type HttpResponse } from '../../../../test/support/http-client.ts'
import { beginFlow, finishFlow, followToCallbackOrPage, openSignIn, submit, type Flow } from '../../../../test/support/oidc-flow.ts'
import { signinTestHarness } from '../../../../test/support/signin.ts'
import { addAccount, fieldError, inputValue, pageTitle, startJourney, visibleText } from '../../../../test/support/signin-pages.ts'
import { addConfirmedApp, appCodeAt, appRules, newAppSecret } from '../../accounts/authenticator-app.ts'
import { acrValues } from '../../accounts/factors.ts'
import { appMessages } from './routes.ts'

// Authenticator apps over real HTTP (ADR 10, docs/security.md "authenticator app"): sign
// in with one, codes accepted once and with one step of drift, 5 wrong codes lock it for
// 15 minutes even when they all arrive at once, choosing another way, and setting one up
// when a service asks for it. Time is the test's clock: codes are computed for it.
const { signin, config, clock, redirectUri } = await signinTestHarness()

let people = 0
async function personWithApp(name: string): Promise<{ email: string, password: string, secret: string, accountId: string }> {
  const email = `${name}.${++people}@example.com`
  const password = `${name}-password-long-enough`
  const account = await addAccount(signin.context.db, { email, password })
  const secret = newAppSecret()
  await addConfirmedApp(signin.context.db, account.id, secret, signin.context.codeKey, clock.now())
  return { email, password, secret, accountId: account.id }
}

async function passwordDone(who: { email: string, password: string }, extra: Record<string, string> = {}) {
  const http = new HttpSession()
  const { page, flow, base } = await startJourney(http, config, redirectUri, extra)
  const answer = await submit(http, page, page.url, { email: who.email, password: who.password })
  return { http, flow, base, answer }
}

async function finish(http: HttpSession, response: HttpResponse, flow: Flow) {
  const callback = await followToCallbackOrPage(http, response, redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url} (${callback.status}): ${visibleText(callback.text).slice(0, 300)}`)
  return finishFlow(flow, callback.url)
}

/** A journey that is on the app code page: post codes to it. */
async function onAppPage(who: { email: string, password: string }) {
  const started = await passwordDone(who)
  assert.equal(started.answer.headers.get('location'), `${new URL(started.base).pathname}/authenticator-app-code`, 'the app is offered first')
  const page = await started.http.get(`${started.base}/authenticator-app-code`)
  const post = (code: string) => started.http.post(`${started.base}/authenticator-app-code`, { _csrf: csrfFrom(page.text), code })
  return { ...started, page, post }
}

const nextStep = () => clock.advanceSeconds(appRules.periodSeconds)

test('an account with an app is asked for its code first; the right code signs in with the app level and amr pwd, mfa, otp', async () => {
  const who = await personWithApp('app.user')
  const { http, flow, page, post } = await onAppPage(who)
  assert.equal(pageTitle(page.text), 'Enter the code from your authenticator app – DfE Sign-in – GOV.UK')
  assert.match(page.text, /Use another way to sign in/)
  assert.equal(await signin.latestEmail(who.email), undefined, 'no email is sent when the app is offered')
  const tokens = await finish(http, await post(appCodeAt(who.secret, clock.now())), flow)
  assert.equal(tokens.claims()!.acr, acrValues.app)
  assert.deepEqual(tokens.claims()!.amr, ['pwd', 'mfa', 'otp'])
  nextStep()
})

test('a code is accepted once: the same code again, even in another sign-in, is refused; the next one works', async () => {
  const who = await personWithApp('replay')
  const code = appCodeAt(who.secret, clock.now())
  const first = await onAppPage(who)
  await finish(first.http, await first.post(code), first.flow)
  const second = await onAppPage(who)
  const replayed = await second.post(code)
  assert.equal(replayed.status, 400)
  assert.equal(fieldError(replayed.text, 'code'), appMessages.used)
  nextStep()
  await finish(second.http, await second.post(appCodeAt(who.secret, clock.now())), second.flow)
  nextStep()
})

test('one step of clock drift either way is accepted, two are not; malformed codes get GOV.UK errors', async () => {
  const who = await personWithApp('drift')
  const at = (steps: number) => appCodeAt(who.secret, new Date(clock.now().getTime() + steps * appRules.periodSeconds * 1000))
  const { http, flow, post } = await onAppPage(who)
  assert.equal(fieldError((await post('')).text, 'code'), 'Enter the code')
  assert.equal(fieldError((await post('12 34')).text, 'code'), 'Enter the code using only 6 digits')
  for (const steps of [-2, 2]) {
    const code = at(steps)
    if ([at(-1), at(0), at(1)].includes(code)) continue // a chance collision of codes
    assert.equal(fieldError((await post(code)).text, 'code'), appMessages.incorrect, `${steps} steps off`)
  }
  await finish(http, await post(at(-1)), flow)
  const again = await onAppPage(who)
  await finish(again.http, await again.post(at(1)), again.flow)
  clock.advanceSeconds(3 * appRules.periodSeconds)
})

test('5 wrong codes lock the app for 15 minutes, the right code included; another way still works meanwhile', async () => {
  const who = await personWithApp('lockout')
  const { http, flow, base, post } = await onAppPage(who)
  const right = appCodeAt(who.secret, clock.now())
  const wrong = right === '000000' ? '111111' : '000000'
  for (let i = 1; i < appRules.wrongCodesBeforeLockout; i++) assert.equal((await post(wrong)).status, 400, `wrong ${i}`)
  const fifth = await post(wrong)
  assert.equal(fifth.status, 429)
  assert.equal(fieldError(fifth.text, 'code'), appMessages.locked(15))
  const refused = await post(right)
  assert.equal(refused.status, 429, 'the right code is refused while locked')
  // Another factor is still there: the emailed code.
  const choose = await http.get(`${base}/choose-factor`)
  assert.match(visibleText(choose.text), /How do you want to sign in\?.*Use your authenticator app.*Get a code by email/)
  const noChoice = await http.post(`${base}/choose-factor`, { _csrf: csrfFrom(choose.text) })
  assert.equal(fieldError(noChoice.text, 'factor'), appMessages.choose)
  const chosen = await http.post(`${base}/choose-factor`, { _csrf: csrfFrom(choose.text), factor: 'email-code' })
  assert.equal(chosen.headers.get('location'), `${new URL(base).pathname}/email-code`)
  const codePage = await http.get(`${base}/email-code`)
  const tokens = await finish(http, await http.post(`${base}/email-code`, { _csrf: csrfFrom(codePage.text), code: await signin.latestCode(who.email) }), flow)
  assert.deepEqual(tokens.claims()!.amr, ['pwd', 'otp'])
  assert.equal(tokens.claims()!.acr, acrValues.multiFactor)

  clock.advanceSeconds(appRules.lockoutMinutes * 60)
  const later = await onAppPage(who)
  await finish(later.http, await later.post(appCodeAt(who.secret, clock.now())), later.flow)
  nextStep()
})

test('50 wrong app codes at once: at most 5 are checked, and then even the right one is refused', async () => {
  const who = await personWithApp('parallel.app')
  const { post } = await onAppPage(who)
  const right = appCodeAt(who.secret, clock.now())
  const guesses = Array.from({ length: 50 }, (_, i) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0'))
  const responses = await Promise.all(guesses.map((guess) => post(guess)))
  const checked = await signin.context.db.selectFrom('audit_events').select('details')
    .where('account_id', '=', who.accountId).where('event', '=', 'second-factor').execute()
  assert.ok(checked.length <= appRules.wrongCodesBeforeLockout, `${checked.length} codes were checked`)
  assert.equal(responses.filter((r) => r.status === 429).length, 50 - appRules.wrongCodesBeforeLockout + 1)
  assert.equal((await post(right)).status, 429)
  clock.advanceSeconds(appRules.lockoutMinutes * 60)
})

test('a service that asks for an app gets one: an account without one proves its email, sets one up from the QR code or key, and signs in at the app level', async () => {
  const email = `no.app.yet.${++people}@example.com`
  const password = 'no-app-yet-password-long'
  await addAccount(signin.context.db, { email, password })
  const { http, flow, base, answer } = await passwordDone({ email, password }, { acr_values: acrValues.app })
  assert.equal(answer.headers.get('location'), `${new URL(base).pathname}/email-code`)
  const codePage = await http.get(`${base}/email-code`)
  const toSetUp = await http.post(`${base}/email-code`, { _csrf: csrfFrom(codePage.text), code: await signin.latestCode(email) })
  assert.equal(toSetUp.headers.get('location'), `${new URL(base).pathname}/set-up-authenticator-app`)
  const setUp = await http.get(`${base}/set-up-authenticator-app`)
  assert.equal(pageTitle(setUp.text), 'Set up an authenticator app – DfE Sign-in – GOV.UK')
  assert.match(setUp.text, /<img class="app-qr-code" src="data:image\/png;base64,[A-Za-z0-9+/=]+"[^>]* alt="QR code to add your DfE Sign-in account/)
  const grouped = visibleText(setUp.text.match(/id="secret-key"><code lang="en">([A-Z2-7 ]+)<\/code>/)![1]!)
  assert.match(grouped, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/)
  const secret = grouped.replace(/ /g, '')
  // Reloading shows the same key (the app may already have it).
  assert.match((await http.get(`${base}/set-up-authenticator-app`)).text, new RegExp(grouped))
  const wrong = await http.post(`${base}/set-up-authenticator-app`, { _csrf: csrfFrom(setUp.text), code: appCodeAt(secret, clock.now()) === '000000' ? '111111' : '000000' })
  assert.equal(fieldError(wrong.text, 'code'), appMessages.incorrect)
  assert.equal(inputValue(wrong.text, 'code'), wrong.text.includes('value="000000"') ? '000000' : '111111')
  const done = await http.post(`${base}/set-up-authenticator-app`, { _csrf: csrfFrom(setUp.text), code: appCodeAt(secret, clock.now()) })
  // Then the recovery codes, shown once (recovery-codes.test.ts), and on to the service.
  assert.equal(done.headers.get('location'), `${new URL(base).pathname}/recovery-codes`)
  const codes = await http.get(`${base}/recovery-codes`)
  const tokens = await finish(http, await http.post(`${base}/recovery-codes`, { _csrf: csrfFrom(codes.text) }), flow)
  assert.equal(tokens.claims()!.acr, acrValues.app)
  nextStep()
  // From now on, the app is what Sign-in asks for first.
  const next = await passwordDone({ email, password })
  assert.equal(next.answer.headers.get('location'), `${new URL(next.base).pathname}/authenticator-app-code`)
})

test('a service that asks for an app is not met by an emailed code: an account with an app is not offered the email', async () => {
  const who = await personWithApp('app.only')
  const { http, base } = await passwordDone(who, { acr_values: acrValues.app })
  const page = await http.get(`${base}/authenticator-app-code`)
  assert.doesNotMatch(page.text, /Use another way to sign in/)
  const choose = await http.get(`${base}/choose-factor`)
  const emailChosen = await http.post(`${base}/choose-factor`, { _csrf: csrfFrom(choose.text), factor: 'email-code' })
  assert.equal(emailChosen.status, 400)
})

test('a password and an emailed code cannot replace an account\'s app with another: a step up asks for the app, and set-up is refused', async () => {
  const who = await personWithApp('no.takeover')
  const { http, flow, base } = await passwordDone(who)
  const appPage = await http.get(`${base}/authenticator-app-code`)
  await http.post(`${base}/choose-factor`, { _csrf: csrfFrom(appPage.text), factor: 'email-code' })
  const codePage = await http.get(`${base}/email-code`)
  await finish(http, await http.post(`${base}/email-code`, { _csrf: csrfFrom(codePage.text), code: await signin.latestCode(who.email) }), flow)
  // The same browser, signed in with password and emailed code, meets a service that asks for the app.
  const stepUp = await startJourneyOrPage(http, { acr_values: acrValues.app })
  assert.match(new URL(stepUp.url).pathname, /\/authenticator-app-code$/, 'only the app code is asked for')
  const stepBase = stepUp.url.replace(/\/authenticator-app-code$/, '')
  const setUp = await http.get(`${stepBase}/set-up-authenticator-app`)
  assert.equal(setUp.status, 303, 'no new app without the old one or a recovery code')
  const rows = await signin.context.db.selectFrom('account_factors').select('id').where('account_id', '=', who.accountId).execute()
  assert.equal(rows.length, 1, 'no second app was started')
  const tokens = await finish(http, await http.post(stepUp.url, { _csrf: csrfFrom(stepUp.text), code: appCodeAt(who.secret, clock.now()) }), stepUp.flow)
  assert.equal(tokens.claims()!.acr, acrValues.app)
  nextStep()
})

/** A service sends an already signed-in browser to Sign-in: the page it lands on. */
async function startJourneyOrPage(http: HttpSession, extra: Record<string, string>) {
  const flow = await beginFlow(config, redirectUri, extra)
  const page = await openSignIn(http, flow)
  return { ...page, flow }
}
