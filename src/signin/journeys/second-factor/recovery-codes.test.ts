import assert from 'node:assert/strict'
import { test } from 'node:test'
import { csrfFrom, HttpSession, type HttpResponse } from '../../../../test/support/http-client.ts'
import { finishFlow, followToCallbackOrPage, submit, type Flow } from '../../../../test/support/oidc-flow.ts'
import { signinTestHarness } from '../../../../test/support/signin.ts'
import { addAccount, fieldError, pageTitle, startJourney, visibleText } from '../../../../test/support/signin-pages.ts'
import { appCodeAt, appRules } from '../../accounts/authenticator-app.ts'
import { acrValues } from '../../accounts/factors.ts'
import { recoveryRules } from '../../accounts/recovery-codes.ts'
import { recoveryMessages } from './routes.ts'

// Recovery codes over real HTTP (docs/security.md "recovery codes"): 10 shown once when
// an app is set up, stored hashed, each used once (even twice at once), 5 wrong ones lock
// recovery for 15 minutes, and using one asks the person to review their factors.
const { signin, config, clock, redirectUri } = await signinTestHarness()

let people = 0

async function finish(http: HttpSession, response: HttpResponse, flow: Flow) {
  const callback = await followToCallbackOrPage(http, response, redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url} (${callback.status}): ${visibleText(callback.text).slice(0, 300)}`)
  return finishFlow(flow, callback.url)
}

async function passwordDone(who: { email: string, password: string }, extra: Record<string, string> = {}) {
  const http = new HttpSession()
  const { page, flow, base } = await startJourney(http, config, redirectUri, extra)
  const answer = await submit(http, page, page.url, { email: who.email, password: who.password })
  return { http, flow, base, answer }
}

/** A new account sets up an app (asked for by the service): its secret and the recovery codes shown. */
async function withAppAndCodes(name: string) {
  const who = { email: `${name}.${++people}@example.com`, password: `${name}-password-long-enough` }
  const account = await addAccount(signin.context.db, who)
  const { http, flow, base } = await passwordDone(who, { acr_values: acrValues.app })
  const codePage = await http.get(`${base}/email-code`)
  await http.post(`${base}/email-code`, { _csrf: csrfFrom(codePage.text), code: await signin.latestCode(who.email) })
  const setUp = await http.get(`${base}/set-up-authenticator-app`)
  const secret = visibleText(setUp.text.match(/id="secret-key"><code lang="en">([A-Z2-7 ]+)<\/code>/)![1]!).replace(/ /g, '')
  const confirmed = await http.post(`${base}/set-up-authenticator-app`, { _csrf: csrfFrom(setUp.text), code: appCodeAt(secret, clock.now()) })
  clock.advanceSeconds(appRules.periodSeconds)
  assert.equal(confirmed.headers.get('location'), `${new URL(base).pathname}/recovery-codes`)
  const shown = await http.get(`${base}/recovery-codes`)
  assert.equal(pageTitle(shown.text), 'Save your recovery codes – DfE Sign-in – GOV.UK')
  const codes = [...shown.text.matchAll(/<li><code lang="en">([a-z2-9]{5}-[a-z2-9]{5})<\/code><\/li>/g)].map((m) => m[1]!)
  const tokens = await finish(http, await http.post(`${base}/recovery-codes`, { _csrf: csrfFrom(shown.text) }), flow)
  assert.equal(tokens.claims()!.acr, acrValues.app)
  // Shown once: the page is gone once the person has carried on.
  assert.equal((await http.get(`${base}/recovery-codes`)).status, 400, 'the finished request has expired')
  return { ...who, accountId: account.id, secret, codes }
}

/** A sign-in that chose "Use a recovery code": post codes to it. */
async function onRecoveryPage(who: { email: string, password: string }) {
  const started = await passwordDone(who)
  const appPage = await started.http.get(`${started.base}/authenticator-app-code`)
  const chose = await started.http.post(`${started.base}/choose-factor`, { _csrf: csrfFrom(appPage.text), factor: 'recovery-code' })
  assert.equal(chose.headers.get('location'), `${new URL(started.base).pathname}/recovery-code`)
  const page = await started.http.get(`${started.base}/recovery-code`)
  const post = (code: string) => started.http.post(`${started.base}/recovery-code`, { _csrf: csrfFrom(page.text), code })
  return { ...started, page, post }
}

test('setting up an app shows 10 different recovery codes once, stored only as hashes', async () => {
  const who = await withAppAndCodes('shown.once')
  assert.equal(who.codes.length, recoveryRules.count)
  assert.equal(new Set(who.codes).size, recoveryRules.count)
  const rows = await signin.context.db.selectFrom('recovery_codes').selectAll().where('account_id', '=', who.accountId).execute()
  assert.equal(rows.length, recoveryRules.count)
  const stored = JSON.stringify(rows)
  for (const code of who.codes) {
    assert.ok(!stored.includes(code) && !stored.includes(code.replace('-', '')), 'no code is stored as it is')
  }
  for (const row of rows) assert.match(row.code_hash, /^[0-9a-f]{64}$/)
})

test('a recovery code signs in (amr pwd, mfa, otp; not the app level), works once, and asks the person to review their factors', async () => {
  const who = await withAppAndCodes('recovery.user')
  const { http, flow, base, page, post } = await onRecoveryPage(who)
  assert.equal(pageTitle(page.text), 'Enter a recovery code – DfE Sign-in – GOV.UK')
  const used = await post(` ${who.codes[0]!.toUpperCase()} `)
  assert.equal(used.headers.get('location'), `${new URL(base).pathname}/recovery-code-used`)
  const review = await http.get(`${base}/recovery-code-used`)
  assert.match(visibleText(review.text), /You used a recovery code You have 9 recovery codes left/)
  const tokens = await finish(http, await http.post(`${base}/recovery-code-used`, { _csrf: csrfFrom(review.text), next: 'continue' }), flow)
  assert.deepEqual(tokens.claims()!.amr, ['pwd', 'mfa', 'otp'])
  assert.equal(tokens.claims()!.acr, acrValues.multiFactor)

  const again = await onRecoveryPage(who)
  const refused = await again.post(who.codes[0]!)
  assert.equal(refused.status, 400)
  assert.equal(fieldError(refused.text, 'code'), recoveryMessages.incorrect)
  assert.equal(fieldError((await again.post('')).text, 'code'), recoveryMessages.missing)
  assert.equal(fieldError((await again.post('not a code!')).text, 'code'), recoveryMessages.format)
})

test('the same recovery code sent 10 times at once signs in once', async () => {
  const who = await withAppAndCodes('recovery.race')
  // The journeys start one after another (10 passwords at once would meet the password
  // lockout's reservations); then the 10 codes go at once.
  const journeys = []
  for (let i = 0; i < 10; i++) journeys.push(await onRecoveryPage(who))
  const answers = await Promise.all(journeys.map((journey) => journey.post(who.codes[1]!)))
  assert.equal(answers.filter((answer) => answer.status === 303).length, 1)
  const row = await signin.context.db.selectFrom('recovery_codes').select(({ fn }) => fn.countAll<string>().as('n'))
    .where('account_id', '=', who.accountId).where('used_at', 'is not', null).executeTakeFirstOrThrow()
  assert.equal(Number(row.n), 1)
})

test('5 wrong recovery codes lock recovery for 15 minutes, a right one included, even all at once', async () => {
  const who = await withAppAndCodes('recovery.lock')
  const { post } = await onRecoveryPage(who)
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post(`wrong-${String(i).padStart(5, 'x')}`.slice(0, 11))))
  assert.equal(answers.filter((a) => a.status === 400).length, recoveryRules.wrongCodesBeforeLockout - 1)
  assert.equal(answers.filter((a) => a.status === 429).length, 30 - recoveryRules.wrongCodesBeforeLockout + 1)
  const locked = await post(who.codes[2]!)
  assert.equal(locked.status, 429)
  assert.equal(fieldError(locked.text, 'code'), recoveryMessages.locked(15))
  clock.advanceSeconds(recoveryRules.lockoutMinutes * 60)
  assert.equal((await post(who.codes[2]!)).status, 303)
})

test('after a recovery code the person can set up a new app: the old app and codes stop working, 10 new codes are shown', async () => {
  const who = await withAppAndCodes('recovery.new.app')
  const { http, flow, base, post } = await onRecoveryPage(who)
  await post(who.codes[3]!)
  const review = await http.get(`${base}/recovery-code-used`)
  const toSetUp = await http.post(`${base}/recovery-code-used`, { _csrf: csrfFrom(review.text), next: 'set-up' })
  assert.equal(toSetUp.headers.get('location'), `${new URL(base).pathname}/set-up-authenticator-app`)
  const setUp = await http.get(`${base}/set-up-authenticator-app`)
  const secret = visibleText(setUp.text.match(/id="secret-key"><code lang="en">([A-Z2-7 ]+)<\/code>/)![1]!).replace(/ /g, '')
  assert.notEqual(secret, who.secret)
  await http.post(`${base}/set-up-authenticator-app`, { _csrf: csrfFrom(setUp.text), code: appCodeAt(secret, clock.now()) })
  clock.advanceSeconds(appRules.periodSeconds)
  const shown = await http.get(`${base}/recovery-codes`)
  const codes = [...shown.text.matchAll(/<li><code lang="en">([a-z2-9]{5}-[a-z2-9]{5})<\/code><\/li>/g)].map((m) => m[1]!)
  assert.equal(codes.length, 10)
  const tokens = await finish(http, await http.post(`${base}/recovery-codes`, { _csrf: csrfFrom(shown.text) }), flow)
  assert.equal(tokens.claims()!.acr, acrValues.app)

  const next = await onRecoveryPage(who)
  assert.equal((await next.post(who.codes[4]!)).status, 400, 'an old code no longer works')
  assert.equal((await next.post(codes[0]!)).status, 303, 'a new one does')
  const oldApp = await passwordDone(who)
  const appPage = await oldApp.http.get(`${oldApp.base}/authenticator-app-code`)
  const oldCode = await oldApp.http.post(`${oldApp.base}/authenticator-app-code`, { _csrf: csrfFrom(appPage.text), code: appCodeAt(who.secret, clock.now()) })
  if (appCodeAt(who.secret, clock.now()) !== appCodeAt(secret, clock.now())) assert.equal(oldCode.status, 400, 'the old app no longer works')
})
