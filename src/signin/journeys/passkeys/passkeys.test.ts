import assert from 'node:assert/strict'
import { test } from 'node:test'
import { csrfFrom, HttpSession, type HttpResponse } from '../../../../test/support/http-client.ts'
import { beginFlow, finishFlow, followToCallbackOrPage, submit, type Flow } from '../../../../test/support/oidc-flow.ts'
import { signinTestHarness } from '../../../../test/support/signin.ts'
import { errorSummary, pageTitle, startJourney, visibleText } from '../../../../test/support/signin-pages.ts'
import { SoftPasskey } from '../../../../test/support/soft-passkey.ts'
import { addConfirmedApp, appCodeAt, newAppSecret } from '../../accounts/authenticator-app.ts'
import { acrValues } from '../../accounts/factors.ts'
import { signinRelyingParty } from '../../accounts/passkey-actions.ts'
import { authenticationOptions, checkPasskey } from '../../accounts/passkeys.ts'
import { passkeyMessages, passkeySignInMessages } from './routes.ts'

// Passkeys over real HTTP (ADR 12, docs/security.md "passkeys"), with a software
// authenticator: added when a service asks for a phishing-resistant sign-in, used as the
// second factor and alone; a look-alike origin or RP ID, a replayed answer and a sign
// count that did not go up are all refused.
const { signin, config, clock, redirectUri, person: newPerson } = await signinTestHarness({ serviceUrl: 'http://localhost:4998' })
const origin = new URL(signin.context.config.publicUrl).origin

async function person(name: string) {
  const { email, password, id } = await newPerson(name)
  return { email, password, accountId: id }
}

async function finish(http: HttpSession, response: HttpResponse, flow: Flow) {
  const callback = await followToCallbackOrPage(http, response, redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url} (${callback.status}): ${visibleText(callback.text).slice(0, 300)}`)
  return finishFlow(flow, callback.url)
}

async function options(http: HttpSession, url: string) {
  const response = await http.get(url, { accept: 'application/json' })
  assert.equal(response.status, 200, `options at ${url}`)
  return JSON.parse(response.text)
}

/** A person whose service asks for a phishing-resistant sign-in adds a passkey after their password and emailed code. */
async function personWithPasskey(name: string, passkey = new SoftPasskey()) {
  const who = await person(name)
  const http = new HttpSession()
  const { flow, base, page } = await startJourney(http, config, redirectUri, { acr_values: acrValues.phishingResistant })
  const password = await submit(http, page, page.url, { email: who.email, password: who.password })
  const codePage = await http.get(new URL(password.headers.get('location')!, password.url))
  const code = await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: await signin.latestCode(who.email) })
  assert.equal(code.headers.get('location'), `${new URL(base).pathname}/set-up-passkey`, 'asked to add a passkey, not refused')
  const setUp = await http.get(`${base}/set-up-passkey`)
  assert.match(visibleText(setUp.text), /Test service needs you to sign in with a passkey/)
  const credential = passkey.register(await options(http, `${base}/set-up-passkey/options`), { origin })
  const added = await http.post(`${base}/set-up-passkey`, { _csrf: csrfFrom(setUp.text), name: 'Work laptop', response: JSON.stringify(credential) })
  assert.equal(added.headers.get('location'), `${new URL(base).pathname}/recovery-codes`, 'the first passkey comes with recovery codes')
  const codes = await http.get(`${base}/recovery-codes`)
  assert.equal((codes.text.match(/<li><code lang="en">/g) ?? []).length, 10)
  const tokens = await finish(http, await http.post(`${base}/recovery-codes`, { _csrf: csrfFrom(codes.text) }), flow)
  return { ...who, passkey, tokens }
}

async function passkeySignIn(passkey: SoftPasskey, as: { origin?: string, rpId?: string, signCount?: number } = {}, extra: Record<string, string> = {}) {
  const http = new HttpSession()
  const { flow, base, page } = await startJourney(http, config, redirectUri, extra)
  const credential = passkey.authenticate(await options(http, `${base}/passkey-sign-in/options`), { origin: as.origin ?? origin, ...as })
  const response = JSON.stringify(credential)
  const post = () => http.post(`${base}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response })
  return { http, flow, base, answer: await post(), post, response }
}

test('a service that asks for a phishing-resistant sign-in gets one: the person adds a passkey, named, with recovery codes and an email', async () => {
  const who = await personWithPasskey('adds.one')
  assert.equal(who.tokens.claims()!.acr, acrValues.phishingResistant)
  assert.deepEqual(who.tokens.claims()!.amr, ['pwd', 'mfa', 'hwk'])
  const row = await signin.context.db.selectFrom('account_factors').selectAll().where('account_id', '=', who.accountId).executeTakeFirstOrThrow()
  assert.equal(row.kind, 'passkey')
  assert.equal(row.label, 'Work laptop')
  assert.equal(row.credential_id, who.passkey.id)
  assert.match((await signin.latestEmail(who.email))!.subject, /A passkey was added to your/)
  const audit = await signin.context.db.selectFrom('audit_events').select(['event', 'outcome']).where('account_id', '=', who.accountId).execute()
  assert.ok(audit.some((event) => event.event === 'passkey-added' && event.outcome === 'success'))
})

test('a passkey alone signs in, with user verification: amr hwk and user, the phishing-resistant acr, last used and sign count kept', async () => {
  const who = await personWithPasskey('alone', new SoftPasskey({ signCount: 1 }))
  clock.advanceSeconds(60)
  const { http, flow, answer } = await passkeySignIn(who.passkey, {}, { acr_values: acrValues.phishingResistant })
  const tokens = await finish(http, answer, flow)
  assert.equal(tokens.claims()!.sub, who.accountId)
  assert.deepEqual(tokens.claims()!.amr, ['hwk', 'user'])
  assert.equal(tokens.claims()!.acr, acrValues.phishingResistant)
  const row = await signin.context.db.selectFrom('account_factors').select(['sign_count', 'last_used_at']).where('credential_id', '=', who.passkey.id).executeTakeFirstOrThrow()
  assert.equal(Number(row.sign_count), who.passkey.signCount)
  assert.equal(row.last_used_at?.getTime(), clock.now().getTime())
  // Your account lists it among the recent sign-ins, as a passkey.
  const account = visibleText((await http.get(`${signin.url}/account`)).text)
  assert.match(account, /When \d+ \w+ \d{4} at [\d:]+[ap]m How you proved it was you Passkey Service Test service/)
})

test('after the password, an account with a passkey is asked for it first, and it counts as a second factor', async () => {
  const who = await personWithPasskey('second')
  const http = new HttpSession()
  const { flow, base, page } = await startJourney(http, config, redirectUri)
  const password = await submit(http, page, page.url, { email: who.email, password: who.password })
  assert.equal(password.headers.get('location'), `${new URL(base).pathname}/passkey`)
  const passkeyPage = await http.get(`${base}/passkey`)
  assert.equal(pageTitle(passkeyPage.text), 'Use your passkey – DfE Sign-in – GOV.UK')
  assert.match(passkeyPage.text, /href="[^"]*\/choose-factor">Use another way to sign in/, 'other ways are offered without JavaScript')
  const choose = await http.get(`${base}/choose-factor`)
  assert.match(choose.text, /data-passkey-section hidden/, 'the passkey is offered by JavaScript only')
  assert.match(choose.text, /value="email-code"/, 'the emailed code is there without JavaScript')
  const credential = who.passkey.authenticate(await options(http, `${base}/passkey/options`), { origin })
  const tokens = await finish(http, await http.post(`${base}/passkey`, { _csrf: csrfFrom(passkeyPage.text), response: JSON.stringify(credential) }), flow)
  assert.deepEqual(tokens.claims()!.amr, ['pwd', 'mfa', 'hwk'])
  assert.equal(tokens.claims()!.acr, acrValues.phishingResistant)
})

test('a passkey answer for another origin or RP ID (a look-alike site relaying it) is refused', async () => {
  const who = await personWithPasskey('phished')
  for (const as of [{ origin: 'https://signin.example-lookalike.com' }, { rpId: 'example-lookalike.com' }]) {
    const { answer } = await passkeySignIn(who.passkey, as)
    assert.equal(answer.status, 400, JSON.stringify(as))
    assert.deepEqual(errorSummary(answer.text).map((item) => item.text), [passkeySignInMessages.refused])
  }
  const refusals = await signin.context.db.selectFrom('audit_events').select('details').where('account_id', '=', who.accountId)
    .where('event', '=', 'sign-in').where('outcome', '=', 'failure').execute()
  assert.equal(refusals.length, 2)
})

test('a passkey answer is used once: replayed, it is refused', async () => {
  const who = await personWithPasskey('replayed')
  const { http, flow, answer, response } = await passkeySignIn(who.passkey)
  await finish(http, answer, flow)
  // Replayed in another sign-in (one a phishing site started, say): its challenge is gone.
  const elsewhere = new HttpSession()
  const other = await startJourney(elsewhere, config, redirectUri)
  const replayed = await elsewhere.post(`${other.base}/passkey-sign-in`, { _csrf: csrfFrom(other.page.text), response })
  assert.equal(replayed.status, 400)
  assert.deepEqual(errorSummary(replayed.text).map((item) => item.text), [passkeySignInMessages.refused])
})

test('a sign count that does not go up (a copied key) is refused and audited', async () => {
  const who = await personWithPasskey('cloned', new SoftPasskey({ signCount: 5 }))
  const first = await passkeySignIn(who.passkey)
  await finish(first.http, first.answer, first.flow)
  const copy = await passkeySignIn(who.passkey, { signCount: 3 })
  assert.equal(copy.answer.status, 400)
  assert.deepEqual(errorSummary(copy.answer.text).map((item) => item.text), [passkeyMessages.cloned])
  const audited = await signin.context.db.selectFrom('audit_events').select(['event', 'details']).where('account_id', '=', who.accountId)
    .where('event', '=', 'passkey-refused').execute()
  assert.equal(audited.length, 1)
  // The real key, counting on, still works.
  const next = await passkeySignIn(who.passkey, { signCount: 7 })
  await finish(next.http, next.answer, next.flow)
})

test('without user verification a passkey is refused', async () => {
  const who = await personWithPasskey('unverified')
  const http = new HttpSession()
  const { base, page } = await startJourney(http, config, redirectUri)
  const credential = who.passkey.authenticate(await options(http, `${base}/passkey-sign-in/options`), { origin, userVerified: false })
  const answer = await http.post(`${base}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response: JSON.stringify(credential) })
  assert.equal(answer.status, 400)
})

test('50 parallel answers to one challenge: exactly one signs in; 50 parallel registrations with one challenge: exactly one passkey', async () => {
  const who = await personWithPasskey('parallel')
  const { http, base, page } = await (async () => {
    const session = new HttpSession()
    return { http: session, ...await startJourney(session, config, redirectUri) }
  })()
  const credential = who.passkey.authenticate(await options(http, `${base}/passkey-sign-in/options`), { origin })
  const answers = await Promise.all(Array.from({ length: 50 }, () =>
    http.post(`${base}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response: JSON.stringify(credential) })))
  assert.equal(answers.filter((answer) => answer.status === 303).length, 1, answers.map((answer) => answer.status).join(','))
  // The others: the challenge was taken (400), or the winner's new session id came first (403, CSRF).
  assert.ok(answers.every((answer) => [303, 400, 403].includes(answer.status)))

  // A new account, adding its first passkey from 50 requests carrying one registration at once.
  const other = await person('parallel.add')
  const started = new HttpSession()
  const journey = await startJourney(started, config, redirectUri, { acr_values: acrValues.phishingResistant })
  const password = await submit(started, journey.page, journey.page.url, { email: other.email, password: other.password })
  const codePage = await started.get(new URL(password.headers.get('location')!, password.url))
  await started.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: await signin.latestCode(other.email) })
  const key = new SoftPasskey()
  const setUpPage = await started.get(`${journey.base}/set-up-passkey`)
  const registration = key.register(await options(started, `${journey.base}/set-up-passkey/options`), { origin })
  const adds = await Promise.all(Array.from({ length: 50 }, () =>
    started.post(`${journey.base}/set-up-passkey`, { _csrf: csrfFrom(setUpPage.text), name: '', response: JSON.stringify(registration) })))
  assert.equal(adds.filter((answer) => answer.status === 303).length, 1, adds.map((answer) => answer.status).join(','))
  const rows = await signin.context.db.selectFrom('account_factors').select('label').where('account_id', '=', other.accountId).execute()
  assert.equal(rows.length, 1)
  assert.match(rows[0]!.label, /^Passkey added \d{1,2} [A-Z][a-z]+ \d{4}$/, 'named with the date when the person gives no name')
})

test('the challenge itself is taken once: 50 parallel checks of one answer, straight to the store and database, give one success', async () => {
  const who = await personWithPasskey('parallel.check')
  const rp = signinRelyingParty(signin.context)
  const challengeOptions = await authenticationOptions(signin.context.db, signin.context.store, rp, 'test-binding')
  const response = JSON.stringify(who.passkey.authenticate(challengeOptions, { origin }))
  const results = await Promise.all(Array.from({ length: 50 }, () => checkPasskey(signin.context.db, signin.context.store, rp, 'test-binding', response, clock.now())))
  assert.equal(results.filter((result) => result.result === 'correct').length, 1)
  assert.ok(results.every((result) => result.result === 'correct' || result.reason === 'challenge'))
})

test('without a passkey, a phishing-resistant request after an emailed code asks to add one; no silent refusal, and no skip', async () => {
  const who = await person('no.passkey')
  const http = new HttpSession()
  const { base, page } = await startJourney(http, config, redirectUri, { acr_values: acrValues.phishingResistant })
  const password = await submit(http, page, page.url, { email: who.email, password: who.password })
  const codePage = await http.get(new URL(password.headers.get('location')!, password.url))
  await http.post(codePage.url, { _csrf: csrfFrom(codePage.text), code: await signin.latestCode(who.email) })
  const setUp = await http.get(`${base}/set-up-passkey`)
  assert.equal(setUp.status, 200)
  assert.doesNotMatch(setUp.text, /set-up-passkey\/skip/)
  assert.match(visibleText(setUp.text), /You need JavaScript turned on/)
  const cancelled = await http.post(`${base}/set-up-passkey`, { _csrf: csrfFrom(setUp.text), name: '', response: '' })
  assert.equal(cancelled.status, 400)
  assert.equal(errorSummary(cancelled.text).length, 1)
})

test('signed in with an authenticator app, a request for the phishing-resistant level asks only to add a passkey, then meets it', async () => {
  const who = await person('app.step.up')
  const secret = newAppSecret()
  await addConfirmedApp(signin.context.db, who.accountId, secret, signin.context.codeKey, clock.now())
  const http = new HttpSession()
  const first = await startJourney(http, config, redirectUri, { acr_values: acrValues.app })
  const password = await submit(http, first.page, first.page.url, { email: who.email, password: who.password })
  const appPage = await http.get(new URL(password.headers.get('location')!, password.url))
  await finish(http, await http.post(appPage.url, { _csrf: csrfFrom(appPage.text), code: appCodeAt(secret, clock.now()) }), first.flow)
  // The same browser, a service asking for more: no password, straight to adding a passkey.
  const flow = await beginFlow(config, redirectUri, { acr_values: acrValues.phishingResistant })
  const stepUp = await http.get(flow.authorizationUrl)
  const landed = await http.follow(stepUp)
  assert.match(new URL(landed.url).pathname, /\/set-up-passkey$/, `ended at ${landed.url}`)
  const base = landed.url.replace(/\/set-up-passkey$/, '')
  const credential = new SoftPasskey().register(await options(http, `${base}/set-up-passkey/options`), { origin })
  const added = await http.post(`${base}/set-up-passkey`, { _csrf: csrfFrom(landed.text), name: '', response: JSON.stringify(credential) })
  // Not the account's first passkey or app (the app came first): no new recovery codes, straight back.
  const tokens = await finish(http, added, flow)
  assert.equal(tokens.claims()!.acr, acrValues.phishingResistant)
  assert.deepEqual(tokens.claims()!.amr, ['pwd', 'mfa', 'hwk'])
})

test('malformed passkey answers get the GOV.UK error summary, never a 5xx', async () => {
  const http = new HttpSession()
  const { base, page } = await startJourney(http, config, redirectUri)
  const garbage = [
    '', 'not json', '[]', 'null', '{"id":1}', JSON.stringify({ id: 'x', response: { clientDataJSON: '!!!', authenticatorData: 'AAAA' } }),
    JSON.stringify({ id: 'x', response: { clientDataJSON: Buffer.from('{"challenge":{}}').toString('base64url'), authenticatorData: 'AAAA' } }),
    JSON.stringify({ id: 'x'.repeat(5000), response: { clientDataJSON: Buffer.from(JSON.stringify({ challenge: 'abc', type: 'webauthn.get' })).toString('base64url'), authenticatorData: 'A', userHandle: {} } }),
    'x'.repeat(15_000)
  ]
  for (const response of garbage) {
    const answer = await http.post(`${base}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response })
    assert.equal(answer.status, 400, response.slice(0, 60))
    assert.equal(errorSummary(answer.text).length, 1)
  }
  // A real challenge, answered with a broken signature.
  const who = await personWithPasskey('malformed')
  const credential = who.passkey.authenticate(await options(http, `${base}/passkey-sign-in/options`), { origin })
  credential.response.signature = Buffer.from('not a signature').toString('base64url')
  const broken = await http.post(`${base}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response: JSON.stringify(credential) })
  assert.equal(broken.status, 400)
})

test('the WebAuthn browser library and our passkey script are served by Sign-in itself, loaded with the page nonce; the sign-in page shows no passkey control until the script does', async () => {
  for (const asset of ['/assets/simplewebauthn-browser.js', '/assets/passkeys.js']) {
    const response = await fetch(`${signin.url}${asset}`)
    assert.equal(response.status, 200, asset)
    assert.match(response.headers.get('content-type') ?? '', /javascript/, asset)
  }
  assert.match(await (await fetch(`${signin.url}/assets/simplewebauthn-browser.js`)).text(), /SimpleWebAuthnBrowser/)
  const http = new HttpSession()
  const { page } = await startJourney(http, config, redirectUri)
  const nonce = /'nonce-([^']+)'/.exec(page.headers.get('content-security-policy') ?? '')?.[1]
  assert.ok(nonce)
  assert.ok(page.text.includes(`<script src="/assets/simplewebauthn-browser.js" nonce="${nonce}"></script>`))
  assert.ok(page.text.includes(`<script type="module" src="/assets/passkeys.js" nonce="${nonce}"></script>`))
  assert.match(page.text, /<form method="post" action="[^"]+\/passkey-sign-in"[^>]* data-passkey-section hidden>/)
})
