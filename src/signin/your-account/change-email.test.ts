import assert from 'node:assert/strict'
import { test } from 'node:test'
import { uniqueWord } from '../../../test/support/builders.ts'
import type { HttpSession } from '../../../test/support/http-client.ts';
import { csrfFrom } from '../../../test/support/http-client.ts'
import { signinTestHarness } from '../../../test/support/signin.ts'
import { addAccount, comparablePage, errorSummary, fieldError, pageTitle, visibleText } from '../../../test/support/signin-pages.ts'
import { emailedCode, signedInBrowser } from '../../../test/support/your-account.ts'
import { changeEmail, findAccountById } from '../accounts/accounts.ts'
import { changeEmailMessages } from './change-email.ts'

// Changing the email address in "Your account" (docs/security.md "your account", ADR 13).
const { signin, config, clock, redirectUri, person } = await signinTestHarness()

async function askFor(http: HttpSession, email: string) {
  const form = await http.get(`${signin.url}/account/change-email`)
  assert.equal(form.status, 200)
  return http.post(`${signin.url}/account/change-email`, { _csrf: csrfFrom(form.text), email })
}

test('change your email address: GOV.UK errors, a code to the new address, then the change, the old address told, sessions kept', async () => {
  const who = await person('move')
  const other = await signedInBrowser(config, redirectUri, who)
  const http = await signedInBrowser(config, redirectUri, who)
  const account = await http.get(`${signin.url}/account`)
  assert.match(account.text, /href="\/account\/change-email"/)

  const form = await http.get(`${signin.url}/account/change-email`)
  assert.equal(pageTitle(form.text), 'Change your email address – DfE Sign-in – GOV.UK')
  for (const [typed, message] of [['', 'Enter your new email address'], ['not-an-address', 'Enter an email address in the correct format, like name@example.com'], [` ${who.email.toUpperCase()} `, changeEmailMessages.same]] as const) {
    const bad = await http.post(`${signin.url}/account/change-email`, { _csrf: csrfFrom(form.text), email: typed })
    assert.equal(bad.status, 400, typed)
    assert.deepEqual(errorSummary(bad.text).map((e) => e.href), ['#email'])
    assert.equal(fieldError(bad.text, 'email'), message)
  }
  const newEmail = `moved.${uniqueWord()}@example.org`
  const asked = await askFor(http, newEmail)
  assert.equal(asked.status, 303)
  assert.equal(asked.headers.get('location'), '/account/change-email/check-your-email')
  const sent = await signin.latestEmail(newEmail)
  assert.match(sent!.subject, /^\d{6} is your DfE Sign-in code to confirm your new email address$/)

  const codePage = await http.get(`${signin.url}/account/change-email/check-your-email`)
  assert.equal(pageTitle(codePage.text), 'Check your email – DfE Sign-in – GOV.UK')
  assert.match(codePage.text, new RegExp(`We've sent a code to <strong>${newEmail}</strong>`))
  assert.match(codePage.text, /href="\/account\/change-email\/resend"/)
  assert.match(codePage.text, /href="\/account\/change-email">Use a different email address/)
  const empty = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: '' })
  assert.equal(fieldError(empty.text, 'code'), 'Enter the code')
  const code = await emailedCode(signin, newEmail)
  const wrong = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: code === '000000' ? '111111' : '000000' })
  assert.equal(wrong.status, 400)
  assert.match(fieldError(wrong.text, 'code')!, /not correct/)

  // Resend: a new code, the old one stops working.
  const resendPage = await http.get(`${signin.url}/account/change-email/resend`)
  assert.equal(resendPage.status, 200)
  const resent = await http.post(`${signin.url}/account/change-email/resend`, { _csrf: csrfFrom(resendPage.text) })
  assert.equal(resent.headers.get('location'), '/account/change-email/check-your-email')
  assert.match(visibleText((await http.get(`${signin.url}/account/change-email/check-your-email`)).text), new RegExp(`We've sent a new code to ${newEmail}`))
  const newCode = await emailedCode(signin, newEmail)
  if (newCode !== code) assert.equal((await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code })).status, 400, 'the first code no longer works')

  const done = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: newCode })
  assert.equal(done.status, 303)
  assert.equal(done.headers.get('location'), '/account')
  const after = await http.get(`${signin.url}/account`)
  assert.match(visibleText(after.text), new RegExp(`Your email address has been changed to ${newEmail}`))
  assert.ok(visibleText(after.text).includes(`Email address ${newEmail}`))
  const saved = (await findAccountById(signin.context.db, who.id))!
  assert.equal(saved.email, newEmail)
  assert.equal(saved.email_normalised, newEmail)
  const told = await signin.latestEmail(who.email)
  assert.equal(told!.subject, 'The email address of your DfE Sign-in account has been changed')
  assert.ok(told!.body.includes(newEmail))
  const audit = await signin.context.db.selectFrom('audit_events').select(['event', 'outcome']).where('account_id', '=', who.id)
    .where('event', 'in', ['email-change-requested', 'email-change-code-failed', 'email-changed']).execute()
  assert.deepEqual(audit.map((row) => row.event).sort(), ['email-change-code-failed', ...(newCode !== code ? ['email-change-code-failed'] : []), 'email-change-requested', 'email-change-requested', 'email-changed'])
  // Sessions carry on, in this browser and the other.
  assert.equal((await other.get(`${signin.url}/account`)).status, 200)
  // The code page has nothing to confirm any more.
  assert.equal((await http.get(`${signin.url}/account/change-email/check-your-email`)).headers.get('location'), '/account/change-email')
  // The new address signs in; the old one does not.
  await signedInBrowser(config, redirectUri, { email: newEmail, password: who.password })
})

test('an address that already has an account: the same pages and answer, its owner is told, no code is sent and nothing changes', async () => {
  const owner = await person('owner')
  const who = await person('asker')
  const fresh = `fresh.${uniqueWord()}@example.org`
  const http = await signedInBrowser(config, redirectUri, who)
  const takenAnswer = await askFor(http, owner.email.toUpperCase())
  const takenPage = await http.get(`${signin.url}/account/change-email/check-your-email`)
  const freshAnswer = await askFor(http, fresh)
  const freshPage = await http.get(`${signin.url}/account/change-email/check-your-email`)
  assert.equal(takenAnswer.status, freshAnswer.status)
  assert.equal(takenAnswer.headers.get('location'), freshAnswer.headers.get('location'))
  assert.equal(comparablePage(takenPage.text, [owner.email.toUpperCase(), csrfFrom(takenPage.text)]), comparablePage(freshPage.text, [fresh, csrfFrom(freshPage.text)]))
  const toOwner = await signin.latestEmail(owner.email.toUpperCase()) ?? await signin.latestEmail(owner.email)
  assert.equal(toOwner!.subject, 'Someone tried to use your email address for another DfE Sign-in account')
  assert.doesNotMatch(toOwner!.body, /\b\d{6}\b/)
  assert.equal((await findAccountById(signin.context.db, who.id))!.email, who.email)
})

test('someone who has the code for an address taken meanwhile is told it is in use (GOV.UK error, not a 5xx)', async () => {
  const who = await person('late')
  const http = await signedInBrowser(config, redirectUri, who)
  const target = `late.target.${uniqueWord()}@example.org`
  await askFor(http, target)
  const code = await emailedCode(signin, target)
  await addAccount(signin.context.db, { email: target, password: 'someone-else-long-password' }, clock.now())
  const page = await http.get(`${signin.url}/account/change-email/check-your-email`)
  const answer = await http.post(page.url, { _csrf: csrfFrom(page.text), code })
  assert.equal(answer.status, 409)
  assert.equal(fieldError(answer.text, 'email'), changeEmailMessages.taken)
  assert.equal((await findAccountById(signin.context.db, who.id))!.email, who.email)
})

test('one account per address: 50 accounts taking the same new address at once, exactly one does', async () => {
  const word = uniqueWord()
  const accounts = await Promise.all(Array.from({ length: 50 }, (_, i) => addAccount(signin.context.db, { email: `race.${i}.${word}@example.com`, password: 'a-long-enough-password' }, clock.now())))
  const target = `Race.Target.${word}@example.org`
  const results = await Promise.all(accounts.map((account) => changeEmail(signin.context.db, account.id, target, async () => {})))
  assert.equal(results.filter((r) => r === 'changed').length, 1, results.join(','))
  assert.equal(results.filter((r) => r === 'taken').length, 49)
  const owners = await signin.context.db.selectFrom('accounts').select('id').where('email_normalised', '=', target.toLowerCase()).execute()
  assert.equal(owners.length, 1)
})

test('changing the email address needs a recent sign-in, and returns to it after signing in again', async () => {
  const who = await person('move.stale')
  const http = await signedInBrowser(config, redirectUri, who)
  clock.advanceSeconds(16 * 60)
  const answer = await http.get(`${signin.url}/account/change-email`)
  assert.equal(answer.headers.get('location'), '/account/sign-in-again?return=%2Faccount%2Fchange-email')
  const post = await http.post(`${signin.url}/account/change-email`, { _csrf: 'x', email: 'x@example.org' })
  assert.equal(post.status, 403, 'no CSRF token: refused before anything')
})
