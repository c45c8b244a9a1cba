import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { HttpResponse, HttpSession } from '../../../../test/support/http-client.ts'
import { finishFlow, followToCallbackOrPage, submit, type Flow } from '../../../../test/support/oidc-flow.ts'
import { signinTestHarness } from '../../../../test/support/signin.ts'
import { addAccount, errorSummary, fieldError, inputValue, pageTitle, startJourney, visibleText } from '../../../../test/support/signin-pages.ts'
import { SignInThrottle, throttleRules } from '../../accounts/sign-in-throttle.ts'
import { defaultHashing, limitPasswordHashing } from '../../accounts/passwords.ts'
import { messages } from './routes.ts'
import { passSecondFactor } from '../../../../test/support/second-factor.ts'

// Sign in over real HTTP: the page, its errors, wrong-password limits (docs/security.md,
// "wrong passwords"), no enumeration, the audit trail and a new session id on success.
// Each test signs in from a browser() of its own: its own IP address, so the per-IP limit
// one test uses up is not another's.
const { signin, config, clock, redirectUri, browser, person } = await signinTestHarness()

const signInAt = (http: HttpSession, page: HttpResponse, email: string, password: string) => submit(http, page, page.url, { email, password })

async function expectSignedIn(http: HttpSession, response: HttpResponse, email: string, flow: Flow) {
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, response), redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `expected the service's callback, ended at ${callback.url} (${callback.status}): ${errorSummary(callback.text).map((e) => e.text).join('; ')}`)
  const tokens = await finishFlow(flow, callback.url)
  assert.equal(tokens.claims()!.email, email)
}

test('the sign-in page names the service and pre-fills the invited address (login_hint)', async () => {
  const { page } = await startJourney(browser(), config, redirectUri, { login_hint: 'invited.person@example.com' })
  assert.match(visibleText(page.text), /To continue to Test service/)
  assert.equal(pageTitle(page.text), 'Sign in – DfE Sign-in – GOV.UK')
  assert.equal(inputValue(page.text, 'email'), 'invited.person@example.com')
  assert.deepEqual(errorSummary(page.text), [])
})

test('empty fields: 400, GOV.UK error summary, "Error: " title and a message by each field', async () => {
  const http = browser()
  const { page } = await startJourney(http, config, redirectUri)
  const response = await signInAt(http, page, '', '')
  assert.equal(response.status, 400)
  assert.match(pageTitle(response.text), /^Error: Sign in/)
  assert.match(response.text, /class="govuk-error-summary"/)
  assert.deepEqual(errorSummary(response.text), [
    { href: '#email', text: 'Enter your email address' },
    { href: '#password', text: 'Enter your password' }
  ])
  assert.equal(fieldError(response.text, 'email'), 'Enter your email address')
  assert.equal(fieldError(response.text, 'password'), 'Enter your password')
})

test('an email address in the wrong format is refused with the GOV.UK message, and what was typed is kept', async () => {
  const http = browser()
  const { page } = await startJourney(http, config, redirectUri)
  const response = await signInAt(http, page, 'not-an-email', 'whatever-password')
  assert.equal(response.status, 400)
  assert.match(pageTitle(response.text), /^Error: /)
  assert.deepEqual(errorSummary(response.text).map((e) => e.text), ['Enter an email address in the correct format, like name@example.com'])
  assert.equal(inputValue(response.text, 'email'), 'not-an-email')
})

test('a wrong password and an unknown address get the same status and the same message', async () => {
  await addAccount(signin.context.db, { email: 'known.person@example.com', password: 'the-right-password-for-known' })
  const http = browser()
  const { page } = await startJourney(http, config, redirectUri)
  const wrongPassword = await signInAt(http, page, 'known.person@example.com', 'not-the-password-at-all')
  const unknownEmail = await signInAt(http, page, 'nobody.here@example.com', 'not-the-password-at-all')
  assert.equal(wrongPassword.status, 400)
  assert.equal(unknownEmail.status, wrongPassword.status)
  assert.deepEqual(errorSummary(wrongPassword.text), [{ href: '#email', text: messages.wrongDetails }])
  assert.deepEqual(errorSummary(unknownEmail.text), errorSummary(wrongPassword.text))
  assert.equal(inputValue(wrongPassword.text, 'password'), undefined, 'the password is never sent back')
})

test('5 wrong passwords lock the address for 15 minutes, even against the right password; then it works again', async () => {
  const email = 'locked.out@example.com'
  const password = 'locked-out-right-password'
  await addAccount(signin.context.db, { email, password })
  const http = browser()
  const { page, flow } = await startJourney(http, config, redirectUri)
  for (let attempt = 1; attempt < throttleRules.failuresBeforeLockout; attempt++) {
    const response = await signInAt(http, page, email, `wrong-password-${attempt}`)
    assert.equal(response.status, 400, `attempt ${attempt}`)
  }
  const fifth = await signInAt(http, page, email, 'wrong-password-5')
  assert.equal(fifth.status, 429)
  assert.deepEqual(errorSummary(fifth.text).map((e) => e.text), [messages.lockedOut(15)])
  assert.match(errorSummary(fifth.text)[0]!.text, /Wait 15 minutes/)
  assert.match(visibleText(fifth.text), /If you need help, email signin-support@example\.com ?\. We aim to respond within 2 working days\./, 'locked out: where to get help')

  assert.match(fifth.text, /<p id="email-error" class="govuk-error-message">[\s\S]*or <a class="govuk-link" href="\/interaction\/[^"]+\/forgotten-password">reset your password<\/a>/, 'by the field, "reset your password" is a link')
  const rightButLocked = await signInAt(http, page, email, password)
  assert.equal(rightButLocked.status, 429, 'the right password is refused while locked')
  assert.match(visibleText(rightButLocked.text), /Wait 15 minutes/)

  clock.advanceSeconds(14 * 60)
  const stillLocked = await signInAt(http, page, email, password)
  assert.equal(stillLocked.status, 429)
  assert.match(visibleText(stillLocked.text), /Wait 1 minute and try again/)

  clock.advanceSeconds(60)
  await expectSignedIn(http, await signInAt(http, page, email, password), email, flow)
})

test('an address with no account is locked the same way, with the same message', async () => {
  const http = browser()
  const { page } = await startJourney(http, config, redirectUri)
  const responses: HttpResponse[] = []
  for (let attempt = 1; attempt <= throttleRules.failuresBeforeLockout + 1; attempt++) {
    responses.push(await signInAt(http, page, 'no.account.here@example.com', `guess-number-${attempt}`))
  }
  assert.deepEqual(responses.map((r) => r.status), [400, 400, 400, 400, 429, 429])
  assert.deepEqual(errorSummary(responses[4]!.text).map((e) => e.text), [messages.lockedOut(15)])
  assert.deepEqual(errorSummary(responses[5]!.text).map((e) => e.text), [messages.lockedOut(15)])
})

test('a successful sign-in clears the count of wrong passwords', async () => {
  const email = 'clears.count@example.com'
  const password = 'clears-count-right-password'
  await addAccount(signin.context.db, { email, password })
  const first = browser()
  const { page, flow } = await startJourney(first, config, redirectUri)
  for (let attempt = 1; attempt < throttleRules.failuresBeforeLockout; attempt++) {
    assert.equal((await signInAt(first, page, email, `wrong-${attempt}-password`)).status, 400)
  }
  await expectSignedIn(first, await signInAt(first, page, email, password), email, flow)

  // Without the reset, the first of these would be the fifth failure in a row and lock.
  const second = browser()
  const again = await startJourney(second, config, redirectUri)
  for (let attempt = 1; attempt < throttleRules.failuresBeforeLockout; attempt++) {
    assert.equal((await signInAt(second, again.page, email, `wrong-again-${attempt}`)).status, 400, `failure ${attempt} after success`)
  }
})

test('sign-ins, failures and lockouts are audited, and the audit trail never holds a password', async () => {
  const email = 'audited.person@example.com'
  const password = 'audit-right-password-5678'
  const wrong = 'audit-wrong-password-1234'
  const account = await addAccount(signin.context.db, { email, password })
  const http = browser()
  const { page, flow } = await startJourney(http, config, redirectUri)
  for (let attempt = 1; attempt <= throttleRules.failuresBeforeLockout + 1; attempt++) await signInAt(http, page, email, wrong)
  clock.advanceSeconds(15 * 60)
  await expectSignedIn(http, await signInAt(http, page, email, password), email, flow)

  const rows = await signin.context.db.selectFrom('audit_events').selectAll().where('email', '=', email).orderBy('at').execute()
  const seen = rows.map((r) => `${r.event}:${r.outcome}`)
  assert.equal(seen.filter((s) => s === 'sign-in:failure').length, 5)
  assert.equal(seen.filter((s) => s === 'sign-in-locked:failure').length, 1)
  assert.equal(seen.filter((s) => s === 'sign-in:success').length, 1)
  const success = rows.find((r) => r.event === 'sign-in' && r.outcome === 'success')!
  assert.equal(success.account_id, account.id)
  assert.equal(success.client_id, 'test-service')
  assert.ok(success.at instanceof Date && success.ip)

  const wholeTable = JSON.stringify(await signin.context.db.selectFrom('audit_events').selectAll().execute())
  for (const secret of [password, wrong, 'locked-out-right-password', 'the-right-password-for-known', 'not-the-password-at-all']) {
    assert.ok(!wholeTable.includes(secret), `the audit trail contains the password ${secret}`)
  }
})

test('signing in gives the browser a new session id (no fixation)', async () => {
  const email = 'fixation.check@example.com'
  const password = 'fixation-check-password'
  await addAccount(signin.context.db, { email, password })
  const http = browser()
  const { page, flow, base } = await startJourney(http, config, redirectUri)
  const before = http.cookie('signin-session', base)
  assert.ok(before, 'the sign-in page starts a session')
  const response = await signInAt(http, page, email, password)
  const after = http.cookie('signin-session', base)
  assert.ok(after, 'the session continues under a new id')
  assert.notEqual(after, before)
  await expectSignedIn(http, response, email, flow)
})

// How long each takes is measured by the benchmark, not here (a wall-clock test on a shared
// machine ranged from 18 to 916 ms and proved little). Here, the structure that makes the
// times equal: an unknown address spends one password hash, as a wrong password does.
test('an unknown address spends a password hash as a wrong password does: with no hash free, both are refused as busy', async (t) => {
  const people = await Promise.all(Array.from({ length: 8 }, () => person('hash.check')))
  const unknown = people.map((someone) => `no.account.${someone.email}`)
  // One hash at a time and none waiting: a burst that hashes finds the hasher busy (503).
  limitPasswordHashing({ concurrency: 1, maxWaiting: 0 })
  t.after(() => limitPasswordHashing(defaultHashing))
  const burst = async (emails: string[]) => {
    const http = browser()
    const { page } = await startJourney(http, config, redirectUri)
    return (await Promise.all(emails.map((email) => signInAt(http, page, email, 'hash-check-wrong-password')))).map((r) => r.status)
  }
  for (const [who, statuses] of [['wrong passwords', await burst(people.map((p) => p.email))], ['unknown addresses', await burst(unknown)]] as const) {
    assert.ok(statuses.includes(503), `${who}: none waited for a hash (${statuses.join(', ')})`)
    assert.ok(statuses.includes(400), `${who}: ${statuses.join(', ')}`)
    assert.deepEqual(statuses.filter((status) => status !== 400 && status !== 503), [], who)
  }
})

test('the per-IP limit: 100 failed sign-ins an hour from one address, then refused for an hour', async () => {
  const throttle = new SignInThrottle(signin.context.store)
  const now = clock.now()
  for (let i = 0; i < throttleRules.failuresPerIpPerHour; i++) {
    assert.equal((await throttle.reserve(`spray-${i}@example.com`, '203.0.113.9', now)).allowed, true, `attempt ${i + 1}`)
  }
  assert.deepEqual(await throttle.reserve('fresh@example.com', '203.0.113.9', now), { allowed: false, reason: 'ip', retryAfterMinutes: 60 })
  assert.equal((await throttle.reserve('fresh@example.com', '198.51.100.7', now)).allowed, true, 'other addresses are not affected')
  clock.advanceSeconds(3600)
  assert.equal((await throttle.reserve('fresh@example.com', '203.0.113.9', clock.now())).allowed, true, 'the count lasts an hour')
})

test('a success gives its IP reservation back: only failures count against the network', async () => {
  const throttle = new SignInThrottle(signin.context.store)
  const now = clock.now()
  const ip = '203.0.113.77'
  for (let i = 0; i < throttleRules.failuresPerIpPerHour * 2; i++) {
    assert.equal((await throttle.reserve(`busy.office.${i}@example.com`, ip, now)).allowed, true, `sign-in ${i + 1}`)
    await throttle.succeeded(`busy.office.${i}@example.com`, ip, now)
  }
})

test('over HTTP, the per-IP limit is explained plainly', async () => {
  const http = browser()
  const { page } = await startJourney(http, config, redirectUri)
  // The address the server sees this test client at, from the audit trail of one failure.
  assert.equal((await signInAt(http, page, 'ip.probe@example.com', 'any-password-at-all')).status, 400)
  const ip = (await signin.context.db.selectFrom('audit_events').select('ip').where('email', '=', 'ip.probe@example.com').executeTakeFirstOrThrow()).ip!
  for (let i = 1; i < throttleRules.failuresPerIpPerHour; i++) await signin.context.throttle.reserve(`http-spray-${i}@example.com`, ip, clock.now())
  const response = await signInAt(http, page, 'innocent.person@example.com', 'any-password-at-all')
  assert.equal(response.status, 429)
  assert.deepEqual(errorSummary(response.text).map((e) => e.text), [messages.tooManyFromHere])
  assert.match(visibleText(response.text), /If you need help, email signin-support@example\.com/, 'limited: where to get help')
})
