import assert from 'node:assert/strict'
import { test } from 'node:test'
import { csrfFrom, HttpSession } from '../../../test/support/http-client.ts'
import { submit } from '../../../test/support/oidc-flow.ts'
import { signedInBrowser as signedInAs } from '../../../test/support/your-account.ts'
import { signinTestHarness } from '../../../test/support/signin.ts'
import { addAccount, errorSummary, fieldError, inputValue, pageTitle, startJourney, visibleText } from '../../../test/support/signin-pages.ts'
import { findAccountById } from '../accounts/accounts.ts'
import { inUkTime } from './activity.ts'

// "Your account" at Sign-in over real HTTP (docs/journeys.md "Your account",
// docs/security.md "your account"): only for someone signed in here, changes only
// within 15 minutes of signing in.
const { signin, config, clock, redirectUri } = await signinTestHarness()

let people = 0
async function person(name: string) {
  const email = `${name}.${++people}@example.com`
  const password = `${name}-password-long-enough`
  const account = await addAccount(signin.context.db, { email, password, givenName: 'Ada', familyName: 'Lovelace' })
  return { email, password, id: account.id }
}

/** Signs in through the test service (password, emailed code): the browser then holds a Sign-in session. */
const signedInBrowser = (who: { email: string, password: string }) => signedInAs(config, redirectUri, who)

/** The recent-activity rows, without the column names shown before each cell on small screens. */
function activityRows(html: string): string[] {
  const table = /<div id="recent-activity">([\s\S]*?)<\/div>/.exec(html)?.[1] ?? ''
  return [...table.matchAll(/<tr class="govuk-table__row" role="row">([\s\S]*?)<\/tr>/g)].slice(1)
    .map(([, row]) => visibleText(row!.replace(/<span class="app-table__label" aria-hidden="true">[^<]*<\/span>/g, '')))
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
  const rows = activityRows(page.text)
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
  const rows = activityRows(page.text)
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

test('a change needs a sign-in within the last 15 minutes: after that the person is sent to sign in again, and what they sent is not saved', async () => {
  const who = await person('stale')
  const http = await signedInBrowser(who)
  const form = await http.get(`${signin.url}/account/change-name`)
  clock.advanceSeconds(16 * 60)
  try {
    const page = await http.get(`${signin.url}/account/change-name`)
    assert.equal(page.status, 303)
    assert.equal(page.headers.get('location'), '/account/sign-in-again?return=%2Faccount%2Fchange-name')
    const post = await http.post(`${signin.url}/account/change-name`, { _csrf: csrfFrom(form.text), givenName: 'Late', familyName: 'Change' })
    assert.equal(post.status, 303)
    assert.equal(post.headers.get('location'), '/account/sign-in-again?return=%2Faccount%2Fchange-name')
    assert.equal((await findAccountById(signin.context.db, who.id))!.given_name, 'Ada')
    // Looking is still allowed.
    assert.equal((await http.get(`${signin.url}/account`)).status, 200)
  } finally {
    clock.advanceSeconds(-16 * 60)
  }
})

async function changePassword(http: HttpSession, fields: Record<string, string>) {
  const form = await http.get(`${signin.url}/account/change-password`)
  assert.equal(form.status, 200)
  return http.post(`${signin.url}/account/change-password`, { _csrf: csrfFrom(form.text), ...fields })
}

test('change your password: errors for each field; the right current password changes it and signs out the other sessions only', async () => {
  const who = await person('change.password')
  const other = await signedInBrowser(who)
  const http = await signedInBrowser(who)
  const newPassword = 'a-brand-new-passphrase-2026'

  const empty = await changePassword(http, { currentPassword: '', password: 'short', confirmPassword: '' })
  assert.equal(empty.status, 400)
  assert.equal(pageTitle(empty.text), 'Error: Change your password – DfE Sign-in – GOV.UK')
  assert.deepEqual(errorSummary(empty.text).map((e) => e.href), ['#currentPassword', '#password'])
  assert.equal(fieldError(empty.text, 'currentPassword'), 'Enter your current password')
  const noNew = await changePassword(http, { currentPassword: who.password, password: '', confirmPassword: '' })
  assert.equal(fieldError(noNew.text, 'password'), 'Enter a new password')
  const mismatch = await changePassword(http, { currentPassword: who.password, password: newPassword, confirmPassword: newPassword + 'x' })
  assert.equal(fieldError(mismatch.text, 'confirmPassword'), 'Passwords do not match')
  const wrong = await changePassword(http, { currentPassword: 'not-my-password', password: newPassword, confirmPassword: newPassword })
  assert.equal(wrong.status, 400)
  assert.equal(fieldError(wrong.text, 'currentPassword'), 'Your current password is not correct')

  const changed = await changePassword(http, { currentPassword: who.password, password: newPassword, confirmPassword: newPassword })
  assert.equal(changed.status, 303)
  assert.equal(changed.headers.get('location'), '/account')
  const account = await http.get(`${signin.url}/account`)
  assert.equal(account.status, 200, 'this session stays signed in')
  assert.match(visibleText(account.text), /Your password has been changed/)
  assert.equal((await other.get(`${signin.url}/account`)).status, 401, 'the other browser is signed out')
  const email = await signin.latestEmail(who.email)
  assert.equal(email!.subject, 'Your DfE Sign-in password has been changed')
  const audit = await signin.context.db.selectFrom('audit_events').select(['event', 'outcome']).where('account_id', '=', who.id)
    .where('event', 'in', ['password-changed', 'password-change-failed']).orderBy('at').orderBy('id').execute()
  assert.deepEqual(audit.map((row) => `${row.event}:${row.outcome}`).sort(), ['password-change-failed:failure', 'password-changed:success'])
  // The new password signs in; the old one does not.
  await signedInBrowser({ email: who.email, password: newPassword })
  const fresh = new HttpSession()
  const { page } = await startJourney(fresh, config, redirectUri)
  assert.equal((await submit(fresh, page, page.url, who)).status, 400)
})

test('change your password cannot be used to guess passwords: 50 wrong current passwords at once check at most 5, then the sign-in lockout holds', async () => {
  const who = await person('guess')
  const http = await signedInBrowser(who)
  const form = await http.get(`${signin.url}/account/change-password`)
  const newPassword = 'a-brand-new-passphrase-2026'
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => http.post(`${signin.url}/account/change-password`, {
    _csrf: csrfFrom(form.text), currentPassword: `wrong-guess-${i}`, password: newPassword, confirmPassword: newPassword
  })))
  const statuses = answers.map((answer) => answer.status)
  assert.ok(statuses.every((status) => status === 400 || status === 429), `statuses: ${statuses.join(',')}`)
  assert.equal(statuses.filter((status) => status === 400).length, 4, 'four wrong answers, the fifth locks')
  const checked = await signin.context.db.selectFrom('audit_events').select('id').where('account_id', '=', who.id).where('event', '=', 'password-change-failed').execute()
  assert.equal(checked.length, 5, 'at most 5 passwords were checked')
  // Locked for sign-in too, and the right current password is refused while locked.
  const right = await changePassword(http, { currentPassword: who.password, password: newPassword, confirmPassword: newPassword })
  assert.equal(right.status, 429)
  assert.match(fieldError(right.text, 'currentPassword')!, /You've entered the wrong details too many times/)
  const fresh = new HttpSession()
  const { page } = await startJourney(fresh, config, redirectUri)
  assert.equal((await submit(fresh, page, page.url, who)).status, 429)
})

test('sign out of every device and service: every session ends, this one too, then a page says so', async () => {
  const who = await person('everywhere')
  const other = await signedInBrowser(who)
  const http = await signedInBrowser(who)
  const account = await http.get(`${signin.url}/account`)
  const noToken = await http.post(`${signin.url}/account/sign-out-everywhere`, {})
  assert.equal(noToken.status, 403)
  const answer = await http.post(`${signin.url}/account/sign-out-everywhere`, { _csrf: csrfFrom(account.text) })
  assert.equal(answer.status, 303)
  assert.equal(answer.headers.get('location'), '/account/signed-out-everywhere')
  const page = await http.get(`${signin.url}/account/signed-out-everywhere`)
  assert.equal(page.status, 200)
  assert.equal(pageTitle(page.text), "You've been signed out everywhere – DfE Sign-in – GOV.UK")
  assert.doesNotMatch(page.text, /href="\/account"/)
  assert.equal((await http.get(`${signin.url}/account`)).status, 401)
  assert.equal((await other.get(`${signin.url}/account`)).status, 401)
  const audit = await signin.context.db.selectFrom('audit_events').select('details').where('account_id', '=', who.id).where('event', '=', 'signed-out-everywhere').executeTakeFirstOrThrow()
  assert.equal(audit.details.sessions, 2)
})
