import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type * as oidc from 'openid-client'
import { FakeClock } from '../../platform/clock.ts'
import { csrfFrom, HttpSession } from '../../../test/support/http-client.ts'
import { followToCallbackOrPage, submit } from '../../../test/support/oidc-flow.ts'
import { passSecondFactor } from '../../../test/support/second-factor.ts'
import { startSigninWithTestService, type TestSignin } from '../../../test/support/signin.ts'
import { addAccount, errorSummary, fieldError, inputValue, pageTitle, startJourney, visibleText } from '../../../test/support/signin-pages.ts'
import { findAccountById } from '../accounts/accounts.ts'
import { inUkTime } from './activity.ts'

// "Your account" at Sign-in over real HTTP (docs/journeys.md "Your account",
// docs/security.md "your account"): only for someone signed in here, changes only
// within 15 minutes of signing in.
const serviceUrl = 'http://localhost:4999'
const redirectUri = `${serviceUrl}/callback`
const clock = new FakeClock(new Date())
let signin: TestSignin
let config: oidc.Configuration

before(async () => {
  ({ signin, config } = await startSigninWithTestService({ clock, serviceUrl }))
})
after(() => signin.close())

let people = 0
async function person(name: string) {
  const email = `${name}.${++people}@example.com`
  const password = `${name}-password-long-enough`
  const account = await addAccount(signin.context.db, { email, password, givenName: 'Ada', familyName: 'Lovelace' })
  return { email, password, id: account.id }
}

/** Signs in through the test service (password, emailed code): the browser then holds a Sign-in session. */
async function signedInBrowser(who: { email: string, password: string }): Promise<HttpSession> {
  const http = new HttpSession()
  const { page } = await startJourney(http, config, redirectUri)
  const answer = await passSecondFactor(http, await submit(http, page, page.url, who))
  const callback = await followToCallbackOrPage(http, answer, redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url} (${callback.status})`)
  return http
}

test('not signed in: /account explains how to sign in, links to the home page and shows no account link', async () => {
  const page = await new HttpSession().get(`${signin.url}/account`)
  assert.equal(page.status, 401)
  assert.equal(pageTitle(page.text), 'Sign in to see your account – DfE Sign-in – GOV.UK')
  assert.match(page.text, /href="\/"/)
  assert.doesNotMatch(page.text, />\s*Your account\s*</)
  assert.equal(page.headers.get('cache-control'), 'no-store')
  const home = await new HttpSession().get(`${signin.url}/`)
  assert.doesNotMatch(home.text, /href="\/account"/)
})

test('signed in: the account page shows name, address, a hidden password, second factors and recent sign-ins, and every page links to it', async () => {
  const who = await person('account.page')
  const http = await signedInBrowser(who)
  const page = await http.get(`${signin.url}/account`)
  assert.equal(page.status, 200)
  assert.equal(page.headers.get('cache-control'), 'no-store')
  const text = visibleText(page.text)
  assert.match(text, /Name Ada Lovelace Change name/)
  assert.ok(text.includes(`Email address ${who.email}`))
  assert.match(text, /Password •+ Hidden Change password/)
  assert.match(text, /Authenticator app Not set up/)
  const rows = [...page.text.matchAll(/<tr class="govuk-table__row">([\s\S]*?)<\/tr>/g)].slice(1).map(([, row]) => visibleText(row!))
  assert.equal(rows.length, 1)
  const signedInAt = await signin.context.db.selectFrom('audit_events').select('at').where('account_id', '=', who.id).where('event', '=', 'second-factor').executeTakeFirstOrThrow()
  assert.equal(rows[0], `${inUkTime(new Date(signedInAt.at))} Code sent by email Test service`)
  // The header link, on Sign-in's own pages, and the home page's link.
  assert.match(page.text, /<a class="govuk-service-navigation__link" href="\/account" aria-current="true">\s*<strong class="govuk-service-navigation__active-fallback">Your account<\/strong>/)
  const home = await http.get(`${signin.url}/`)
  assert.match(home.text, /class="govuk-service-navigation__link" href="\/account"/)
  assert.match(home.text, /<a class="govuk-link" href="\/account">Go to your account<\/a>/)
  const help = await http.get(`${signin.url}/help`)
  assert.match(help.text, /class="govuk-service-navigation__link" href="\/account"/)
})

test('recent sign-in activity: the last 10, newest first, in UK time', async () => {
  assert.equal(inUkTime(new Date('2026-07-01T12:05:00Z')), '1 July 2026 at 1:05pm')
  assert.equal(inUkTime(new Date('2026-01-10T00:30:00Z')), '10 January 2026 at 12:30am')
  const who = await person('activity')
  const base = new Date('2026-01-01T10:00:00Z').getTime()
  for (let i = 0; i < 12; i++) {
    await signin.context.db.insertInto('audit_events').values({
      at: new Date(base + i * 86_400_000), event: 'second-factor', outcome: 'success', account_id: who.id, email: who.email,
      client_id: 'test-service', ip: '127.0.0.1', details: JSON.stringify({ factor: i % 2 ? 'authenticator-app' : 'recovery-code' }) as never
    }).execute()
  }
  const http = await signedInBrowser(who)
  const page = await http.get(`${signin.url}/account`)
  const rows = [...page.text.matchAll(/<tr class="govuk-table__row">([\s\S]*?)<\/tr>/g)].slice(1).map(([, row]) => visibleText(row!))
  assert.equal(rows.length, 10)
  assert.match(rows[0]!, /Code sent by email Test service$/)
  assert.equal(rows[1], '12 January 2026 at 10:00am Authenticator app Test service')
  assert.equal(rows[9], '4 January 2026 at 10:00am Authenticator app Test service')
})

test('change your name: GOV.UK errors for bad input, then saved, audited and confirmed by email', async () => {
  const who = await person('change.name')
  const http = await signedInBrowser(who)
  const form = await http.get(`${signin.url}/account/change-name`)
  assert.equal(form.status, 200)
  assert.equal(inputValue(form.text, 'givenName'), 'Ada')
  const bad = await http.post(`${signin.url}/account/change-name`, { _csrf: csrfFrom(form.text), givenName: '', familyName: '<b>' })
  assert.equal(bad.status, 400)
  assert.equal(pageTitle(bad.text), 'Error: Change your name – DfE Sign-in – GOV.UK')
  assert.deepEqual(errorSummary(bad.text).map((e) => e.href), ['#givenName', '#familyName'])
  assert.equal(fieldError(bad.text, 'givenName'), 'Enter your first name')
  // Odd bodies (duplicated fields) are GOV.UK errors too, never a 5xx.
  const odd = await http.request('POST', `${signin.url}/account/change-name`, new URLSearchParams([['_csrf', csrfFrom(form.text)], ['givenName', 'a'], ['givenName', 'b'], ['familyName', 'X']]))
  assert.equal(odd.status, 400)
  const noToken = await http.post(`${signin.url}/account/change-name`, { givenName: 'Grace', familyName: 'Hopper' })
  assert.equal(noToken.status, 403)

  const saved = await http.post(`${signin.url}/account/change-name`, { _csrf: csrfFrom(form.text), givenName: ' Grace ', familyName: 'Hopper' })
  assert.equal(saved.status, 303)
  assert.equal(saved.headers.get('location'), '/account')
  const account = await http.get(`${signin.url}/account`)
  assert.match(visibleText(account.text), /Your name has been changed .* Name Grace Hopper/)
  assert.equal((await findAccountById(signin.context.db, who.id))!.given_name, 'Grace')
  const email = await signin.latestEmail(who.email)
  assert.equal(email!.subject, 'The name on your DfE Sign-in account has been changed')
  assert.match(email!.body, /changed to Grace Hopper/)
  const audit = await signin.context.db.selectFrom('audit_events').select(['event', 'outcome']).where('account_id', '=', who.id).where('event', '=', 'name-changed').execute()
  assert.deepEqual(audit, [{ event: 'name-changed', outcome: 'success' }])
})

test('a change needs a sign-in within the last 15 minutes: after that the person is asked to sign in again', async () => {
  const who = await person('stale')
  const http = await signedInBrowser(who)
  const form = await http.get(`${signin.url}/account/change-name`)
  clock.advanceSeconds(16 * 60)
  try {
    const page = await http.get(`${signin.url}/account/change-name`)
    assert.equal(page.status, 403)
    assert.equal(pageTitle(page.text), 'Sign in again to change your account – DfE Sign-in – GOV.UK')
    const post = await http.post(`${signin.url}/account/change-name`, { _csrf: csrfFrom(form.text), givenName: 'Late', familyName: 'Change' })
    assert.equal(post.status, 403)
    assert.equal((await findAccountById(signin.context.db, who.id))!.given_name, 'Ada')
    // Looking is still allowed.
    assert.equal((await http.get(`${signin.url}/account`)).status, 200)
  } finally {
    clock.advanceSeconds(-16 * 60)
  }
})
