import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HttpSession, type HttpResponse } from '../../../../test/support/http-client.ts'
import { finishFlow, followToCallbackOrPage, submit, type Flow } from '../../../../test/support/oidc-flow.ts'
import { signinTestHarness } from '../../../../test/support/signin.ts'
import { addAccount, comparablePage, errorSummary, inputValue, startJourney, visibleText } from '../../../../test/support/signin-pages.ts'
import { throttleRules } from '../../accounts/sign-in-throttle.ts'
import { codeMessages } from '../steps/code-step.ts'
import { messages as signInMessages } from '../sign-in/routes.ts'
import { passSecondFactor } from '../../../../test/support/second-factor.ts'

// Forgotten password over real HTTP: the reset ends back in the service, signed in;
// the first answer is the same with or without an account; codes last 15 minutes.
const { signin, config, clock, redirectUri } = await signinTestHarness()

interface Reset { http: HttpSession, base: string, flow: Flow, checkEmail: HttpResponse }

/** From the sign-in page, "Forgotten your password?" with this address: returns the "Check your email" page. */
async function requestReset(email: string, http = new HttpSession()): Promise<Reset> {
  const { base, flow, page } = await startJourney(http, config, redirectUri)
  assert.match(page.text, new RegExp(`href="/interaction/[^"]+/forgotten-password"`), 'the sign-in page links to the reset')
  const form = await http.get(`${base}/forgotten-password`)
  assert.match(visibleText(form.text), /Reset your password/)
  const sent = await submit(http, form, `${base}/forgotten-password`, { email })
  assert.equal(sent.status, 303, errorSummary(sent.text).map((e) => e.text).join('; '))
  assert.equal(new URL(sent.headers.get('location')!, base).href, `${base}/forgotten-password/check-email`)
  return { http, base, flow, checkEmail: await http.get(`${base}/forgotten-password/check-email`) }
}

const enterCode = (reset: Reset, code: string) => submit(reset.http, reset.checkEmail, `${reset.base}/forgotten-password/check-email`, { code })

async function chooseNewPassword(reset: Reset, code: string, password: string): Promise<HttpResponse> {
  const confirmed = await enterCode(reset, code)
  assert.equal(confirmed.status, 303, errorSummary(confirmed.text).map((e) => e.text).join('; '))
  const page = await reset.http.follow(confirmed)
  assert.match(visibleText(page.text), /Create a new password/)
  const changed = await submit(reset.http, page, `${reset.base}/forgotten-password/new-password`, { password, confirmPassword: password })
  assert.equal(changed.status, 303, errorSummary(changed.text).map((e) => e.text).join('; '))
  return reset.http.follow(changed)
}

/** A fresh browser signs in at the service: the response of the sign-in form. */
async function signInFresh(email: string, password: string): Promise<{ http: HttpSession, flow: Flow, response: HttpResponse }> {
  const http = new HttpSession()
  const { page, flow } = await startJourney(http, config, redirectUri)
  return { http, flow, response: await submit(http, page, page.url, { email, password }) }
}

async function assertReachesService(http: HttpSession, response: HttpResponse, flow: Flow, email: string) {
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, response), redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url} (${callback.status}): ${errorSummary(callback.text).map((e) => e.text).join('; ')}`)
  assert.equal((await finishFlow(flow, callback.url)).claims()!.email, email)
}

test('a reset ends back at the service, signed in; the new password works and the old one does not', async () => {
  const email = 'forgetful.person@example.com'
  await addAccount(signin.context.db, { email, password: 'the-old-forgotten-password' })
  const reset = await requestReset(email)
  assert.match(visibleText(reset.checkEmail.text), /If forgetful\.person@example\.com has a DfE Sign-in account, we've sent a code/)
  const codeEmail = await signin.latestEmail(email)
  assert.match(codeEmail!.subject, /password reset code/)
  assert.match(codeEmail!.body, /expires in 15 minutes/)

  const done = await chooseNewPassword(reset, await signin.latestCode(email), 'a brand new memorable phrase')
  assert.match(visibleText(done.text), /Your password has been reset/)
  assert.match(visibleText(done.text), /Continue to Test service/)
  const changedEmail = await signin.latestEmail(email)
  assert.match(changedEmail!.subject, /Your DfE Sign-in password has been changed/, 'a "password changed" email is queued')

  const finished = await submit(reset.http, done, `${reset.base}/forgotten-password/done`, {})
  await assertReachesService(reset.http, finished, reset.flow, email)

  const old = await signInFresh(email, 'the-old-forgotten-password')
  assert.equal(old.response.status, 400)
  assert.deepEqual(errorSummary(old.response.text).map((e) => e.text), [signInMessages.wrongDetails])
  const fresh = await signInFresh(email, 'a brand new memorable phrase')
  await assertReachesService(fresh.http, fresh.response, fresh.flow, email)

  const audit = await signin.context.db.selectFrom('audit_events').select('event').where('email', '=', email).where('event', '=', 'password-reset').execute()
  assert.equal(audit.length, 1)
})

test('an unknown address gets the identical next page and no email', async () => {
  await addAccount(signin.context.db, { email: 'has.account@example.com', password: 'has-account-password' })
  const known = await requestReset('has.account@example.com')
  const unknown = await requestReset('no.such.account@example.com')
  assert.equal(unknown.checkEmail.status, known.checkEmail.status)
  assert.equal(
    comparablePage(unknown.checkEmail.text, ['no.such.account@example.com']),
    comparablePage(known.checkEmail.text, ['has.account@example.com'])
  )
  assert.equal(await signin.latestEmail('no.such.account@example.com'), undefined)
  const guessed = await enterCode(unknown, '123456')
  assert.equal(guessed.status, 400)
  assert.deepEqual(errorSummary(guessed.text).map((e) => e.text), [codeMessages.incorrect])
})

test('the form is validated the GOV.UK way', async () => {
  const http = new HttpSession()
  const { base } = await startJourney(http, config, redirectUri, { login_hint: 'hinted@example.com' })
  const form = await http.get(`${base}/forgotten-password`)
  assert.equal(inputValue(form.text, 'email'), 'hinted@example.com')
  for (const [email, message] of [['', 'Enter your email address'], ['not an email', 'Enter an email address in the correct format, like name@example.com']]) {
    const response = await submit(http, form, `${base}/forgotten-password`, { email: email! })
    assert.equal(response.status, 400)
    assert.deepEqual(errorSummary(response.text), [{ href: '#email', text: message! }])
  }
})

test('a reset code expires after 15 minutes', async () => {
  const email = 'slow.reader@example.com'
  await addAccount(signin.context.db, { email, password: 'slow-reader-old-password' })
  const reset = await requestReset(email)
  const code = await signin.latestCode(email)
  clock.advanceSeconds(15 * 60)
  const late = await enterCode(reset, code)
  assert.equal(late.status, 400)
  assert.deepEqual(errorSummary(late.text).map((e) => e.text), [codeMessages.expired])

  // A new code, used within its 15 minutes, still works.
  const resendPage = await reset.http.get(`${reset.base}/forgotten-password/resend-code`)
  const resent = await submit(reset.http, resendPage, `${reset.base}/forgotten-password/resend-code`, { email })
  assert.equal(resent.status, 303)
  const checkEmail = await reset.http.follow(resent)
  assert.match(visibleText(checkEmail.text), /We've sent a new code to slow\.reader@example\.com/)
  clock.advanceSeconds(14 * 60)
  const inTime = await enterCode({ ...reset, checkEmail }, await signin.latestCode(email))
  assert.equal(inTime.status, 303)
})

test('a reset clears a lockout: the new password works at once', async () => {
  const email = 'locked.then.reset@example.com'
  await addAccount(signin.context.db, { email, password: 'locked-then-reset-old' })
  const attempt = await signInFresh(email, 'wrong-guess-0')
  for (let i = 1; i < throttleRules.failuresBeforeLockout; i++) {
    await submit(attempt.http, attempt.response, attempt.response.url, { email, password: `wrong-guess-${i}` })
  }
  const locked = await signInFresh(email, 'locked-then-reset-old')
  assert.equal(locked.response.status, 429, 'locked before the reset')

  const reset = await requestReset(email)
  await chooseNewPassword(reset, await signin.latestCode(email), 'unlocked with a fresh phrase')
  const after = await signInFresh(email, 'unlocked with a fresh phrase')
  await assertReachesService(after.http, after.response, after.flow, email)
})

test('the new-password step cannot be reached without the code', async () => {
  const email = 'no.shortcuts@example.com'
  await addAccount(signin.context.db, { email, password: 'no-shortcuts-old-password' })
  const reset = await requestReset(email)
  const early = await reset.http.get(`${reset.base}/forgotten-password/new-password`)
  assert.equal(early.status, 303)
  assert.match(early.headers.get('location')!, /\/forgotten-password\/check-email$/)
  const posted = await submit(reset.http, reset.checkEmail, `${reset.base}/forgotten-password/new-password`, { password: 'sneaky new password', confirmPassword: 'sneaky new password' })
  assert.equal(posted.status, 303)
  const unchanged = await signInFresh(email, 'sneaky new password')
  assert.equal(unchanged.response.status, 400, 'the password did not change')
})
