import assert from 'node:assert/strict'
import { test } from 'node:test'
import { csrfFrom, HttpSession } from '../../../test/support/http-client.ts'
import { followToCallbackOrPage, submit } from '../../../test/support/oidc-flow.ts'
import { passSecondFactor } from '../../../test/support/second-factor.ts'
import { signinTestHarness } from '../../../test/support/signin.ts'
import { errorSummary, pageTitle, startJourney, visibleText } from '../../../test/support/signin-pages.ts'
import { SoftPasskey } from '../../../test/support/soft-passkey.ts'
import { passkeyMessages } from '../journeys/passkeys/routes.ts'
import { recentSignInMinutes } from './sign-in-again.ts'

// Passkeys in Your account over real HTTP (ADR 12, docs/security.md "passkeys"): add one
// (the first with recovery codes, shown once), see them listed with when they were added
// and last used, remove one; both need a recent sign-in, and each is emailed and audited.
const { signin, config, clock, redirectUri, person } = await signinTestHarness({ serviceUrl: 'http://localhost:4997' })
const origin = new URL(signin.context.config.publicUrl).origin

async function signedInPerson(name: string) {
  const { email, password, id } = await person(name)
  const http = new HttpSession()
  const { page } = await startJourney(http, config, redirectUri)
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, await submit(http, page, page.url, { email, password })), redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`))
  return { email, id, http }
}

/** Signs in again in the same browser with a passkey alone (a new Sign-in session at the phishing-resistant level). */
async function signInWithPasskey(http: HttpSession, key: SoftPasskey) {
  const { page, base } = await startJourney(http, config, redirectUri, { prompt: 'login' })
  const options = JSON.parse((await http.get(`${base}/passkey-sign-in/options`)).text)
  const answer = await http.post(`${base}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response: JSON.stringify(key.authenticate(options, { origin })) })
  const callback = await followToCallbackOrPage(http, answer, redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url}`)
}

async function addPasskey(http: HttpSession, key: SoftPasskey, name: string) {
  const page = await http.get(`${signin.url}/account/passkeys/add`)
  assert.equal(page.status, 200)
  const options = JSON.parse((await http.get(`${signin.url}/account/passkeys/add/options`)).text)
  return http.post(`${signin.url}/account/passkeys/add`, { _csrf: csrfFrom(page.text), name, response: JSON.stringify(key.register(options, { origin })) })
}

test('add a passkey from Your account: the first comes with 10 recovery codes shown once, then it is listed; a second does not replace them', async () => {
  const who = await signedInPerson('account.add')
  const before = await who.http.get(`${signin.url}/account`)
  assert.match(visibleText(before.text), /You have not added a passkey/)
  assert.match(visibleText(before.text), /None: you get recovery codes when you set up a passkey or an authenticator app/)
  const first = new SoftPasskey()
  const added = await addPasskey(who.http, first, 'Work laptop')
  assert.equal(added.headers.get('location'), '/account/passkeys/recovery-codes')
  const codes = await who.http.get(`${signin.url}/account/passkeys/recovery-codes`)
  assert.equal(pageTitle(codes.text), 'Save your recovery codes – DfE Sign-in – GOV.UK')
  assert.equal((codes.text.match(/<li><code lang="en">/g) ?? []).length, 10)
  assert.equal((await who.http.get(`${signin.url}/account/passkeys/recovery-codes`)).headers.get('location'), '/account', 'shown once')
  // Signed in with a password and an emailed code, the account now has a passkey: another needs the passkey first.
  const refused = await who.http.get(`${signin.url}/account/passkeys/add`)
  assert.equal(refused.status, 403)
  assert.equal(pageTitle(refused.text), 'Sign in with your passkey or app to add a passkey – DfE Sign-in – GOV.UK')
  await signInWithPasskey(who.http, first)
  const second = await addPasskey(who.http, new SoftPasskey(), '')
  assert.equal(second.headers.get('location'), '/account')
  const account = visibleText((await who.http.get(`${signin.url}/account`)).text)
  assert.match(account, /Passkey added: Passkey added \d/)
  assert.match(account, /Work laptop Remove passkey \(Work laptop\) Added \d+ \w+ \d{4} at [\d:]+[ap]m Last used \d+ \w+ \d{4} at [\d:]+[ap]m/)
  assert.match(account, /Remove passkey \(Passkey added \d+ \w+ \d{4}\) Added \d+ \w+ \d{4} at [\d:]+[ap]m Last used Not used yet/)
  assert.match(account, /10 recovery codes left/)
  const emails = await signin.context.db.selectFrom('outbox').select('subject').where('recipient', '=', who.email).execute()
  assert.equal(emails.filter((email) => /A passkey was added/.test(email.subject)).length, 2)
})

test('the same authenticator cannot be added twice, and a challenge made for another session is refused', async () => {
  const who = await signedInPerson('account.twice')
  const key = new SoftPasskey()
  await addPasskey(who.http, key, 'Phone')
  await signInWithPasskey(who.http, key)
  // The same credential again (an authenticator that ignored excludeCredentials): refused, not a 5xx.
  const page = await who.http.get(`${signin.url}/account/passkeys/add`)
  const options = JSON.parse((await who.http.get(`${signin.url}/account/passkeys/add/options`)).text)
  assert.deepEqual(options.excludeCredentials.map((credential: { id: string }) => credential.id), [key.id])
  const again = await who.http.post(`${signin.url}/account/passkeys/add`, { _csrf: csrfFrom(page.text), name: '', response: JSON.stringify(key.register(options, { origin })) })
  assert.equal(again.status, 400)
  assert.deepEqual(errorSummary(again.text).map((item) => item.text), [passkeyMessages.duplicate])
  // Options fetched by one signed-in session, answered in another of the same account.
  const other = await signedInPerson('account.twice.other')
  const foreign = JSON.parse((await other.http.get(`${signin.url}/account/passkeys/add/options`)).text)
  const mixed = await who.http.post(`${signin.url}/account/passkeys/add`, { _csrf: csrfFrom(page.text), name: '', response: JSON.stringify(new SoftPasskey().register(foreign, { origin })) })
  assert.equal(mixed.status, 400)
  assert.deepEqual(errorSummary(mixed.text).map((item) => item.text), [passkeyMessages.challenge])
})

test('remove a passkey: needs a recent sign-in, then it is gone, emailed and audited; someone else\'s cannot be removed', async () => {
  const who = await signedInPerson('account.remove')
  await addPasskey(who.http, new SoftPasskey(), 'Old phone')
  const row = await signin.context.db.selectFrom('account_factors').select('id').where('account_id', '=', who.id).executeTakeFirstOrThrow()
  const stranger = await signedInPerson('account.remove.stranger')
  assert.equal((await stranger.http.get(`${signin.url}/account/passkeys/${row.id}/remove`)).status, 404)
  const strangerPage = await stranger.http.get(`${signin.url}/account`)
  await stranger.http.post(`${signin.url}/account/passkeys/${row.id}/remove`, { _csrf: csrfFrom(strangerPage.text) })
  assert.ok(await signin.context.db.selectFrom('account_factors').select('id').where('id', '=', row.id).executeTakeFirst(), 'still there')

  clock.advanceSeconds((recentSignInMinutes + 1) * 60)
  for (const path of [`/account/passkeys/${row.id}/remove`, '/account/passkeys/add']) {
    const late = await who.http.get(`${signin.url}${path}`)
    assert.equal(late.status, 303, `${path}: sign in again first`)
    assert.match(late.headers.get('location') ?? '', /^\/account\/sign-in-again\?return=/)
  }
  clock.advanceSeconds(-(recentSignInMinutes + 1) * 60)

  const confirm = await who.http.get(`${signin.url}/account/passkeys/${row.id}/remove`)
  assert.equal(pageTitle(confirm.text), 'Are you sure you want to remove this passkey? – DfE Sign-in – GOV.UK')
  const removed = await who.http.post(`${signin.url}/account/passkeys/${row.id}/remove`, { _csrf: csrfFrom(confirm.text) })
  assert.equal(removed.headers.get('location'), '/account')
  assert.match(visibleText((await who.http.get(`${signin.url}/account`)).text), /Passkey removed\. It can no longer be used to sign in/)
  assert.equal(await signin.context.db.selectFrom('account_factors').select('id').where('id', '=', row.id).executeTakeFirst(), undefined)
  assert.match((await signin.latestEmail(who.email))!.subject, /A passkey was removed/)
  const audit = await signin.context.db.selectFrom('audit_events').select('event').where('account_id', '=', who.id).where('event', '=', 'passkey-removed').execute()
  assert.equal(audit.length, 1)
})
