import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as oidc from 'openid-client'
import { csrfFrom, HttpSession, type HttpResponse } from '../../../../test/support/http-client.ts'
import { finishFlow, followToCallbackOrPage, submit, type Flow } from '../../../../test/support/oidc-flow.ts'
import { passSecondFactor } from '../../../../test/support/second-factor.ts'
import { signinTestHarness } from '../../../../test/support/signin.ts'
import { addAccount, fieldError, pageTitle, startJourney, visibleText } from '../../../../test/support/signin-pages.ts'
import { codeRules } from '../../accounts/emailed-codes.ts'
import { acrValues, supportedAcrValues } from '../../accounts/factors.ts'
import { codeMessages } from '../steps/code-step.ts'

// The second factor over real HTTP (ADR 10, docs/security.md "second factor"): after a
// correct password an emailed code, with its limits; acr and amr in the ID token and
// userinfo; discovery's acr_values_supported.
const { signin, config, clock, redirectUri } = await signinTestHarness()

let people = 0
async function person(name: string): Promise<{ email: string, password: string }> {
  const email = `${name}.${++people}@example.com`
  const password = `${name}-password-long-enough`
  await addAccount(signin.context.db, { email, password })
  return { email, password }
}

/** Opens a journey and sends the right password: the answer, its journey and the code page it leads to. */
async function passwordDone(who: { email: string, password: string }, extra: Record<string, string> = {}) {
  const http = new HttpSession()
  const { page, flow, base } = await startJourney(http, config, redirectUri, extra)
  const answer = await submit(http, page, page.url, who)
  return { http, flow, base, answer }
}

async function finish(http: HttpSession, response: HttpResponse, flow: Flow) {
  const callback = await followToCallbackOrPage(http, response, redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url} (${callback.status})`)
  return finishFlow(flow, callback.url)
}

test('discovery advertises the acr values, strongest first', async () => {
  const metadata = await (await fetch(`${signin.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>
  assert.deepEqual(metadata.acr_values_supported, supportedAcrValues)
  assert.deepEqual(supportedAcrValues, [acrValues.phishingResistant, acrValues.app, acrValues.multiFactor])
  assert.ok((metadata.claims_supported as string[]).includes('acr') && (metadata.claims_supported as string[]).includes('amr'))
})

test('a correct password is not enough: Sign-in emails a code, and the right code signs the person in with acr and amr in the ID token and userinfo', async () => {
  const who = await person('email.code')
  const { http, flow, base, answer } = await passwordDone(who)
  assert.equal(answer.status, 303)
  assert.equal(answer.headers.get('location'), `${new URL(base).pathname}/email-code`)
  const page = await http.get(`${base}/email-code`)
  assert.equal(pageTitle(page.text), 'Check your email – DfE Sign-in – GOV.UK')
  assert.match(visibleText(page.text), new RegExp(`We've sent a code to ${who.email.replace(/[.]/g, '\\.')}`))
  const email = await signin.latestEmail(who.email)
  assert.match(email!.subject, /^\d{6} is your DfE Sign-in sign-in code$/)

  const tokens = await finish(http, await http.post(`${base}/email-code`, { _csrf: csrfFrom(page.text), code: await signin.latestCode(who.email) }), flow)
  const claims = tokens.claims()!
  assert.equal(claims.acr, acrValues.multiFactor)
  assert.deepEqual(claims.amr, ['pwd', 'otp'])
  const userinfo = await oidc.fetchUserInfo(flow.config, tokens.access_token, claims.sub)
  assert.equal(userinfo.acr, acrValues.multiFactor)
  assert.deepEqual(userinfo.amr, ['pwd', 'otp'])
  assert.equal(userinfo.email, who.email)
  const audit = await signin.context.db.selectFrom('audit_events').select(['event', 'outcome', 'details'])
    .where('email', '=', who.email).where('event', '=', 'second-factor').execute()
  assert.deepEqual(audit.map((row) => [row.outcome, row.details.factor]), [['success', 'email-code']])
})

test('the code page cannot be reached without the password, and a code is needed even with a session from the password step', async () => {
  const who = await person('no.skipping')
  const http = new HttpSession()
  const { base } = await startJourney(http, config, redirectUri)
  const skipped = await http.get(`${base}/email-code`)
  assert.equal(skipped.status, 303)
  assert.equal(skipped.headers.get('location'), new URL(base).pathname)
  const { http: other, base: otherBase, answer } = await passwordDone(who)
  assert.equal(answer.status, 303)
  // Opening the service again in the same browser does not skip the code: nobody is signed in yet.
  const again = await startJourney(other, config, redirectUri)
  assert.notEqual(again.base, otherBase)
  assert.match(pageTitle(again.page.text), /^Sign in/)
})

test('wrong, malformed and missing codes get GOV.UK errors; 5 wrong codes kill the code; a new one works', async () => {
  const who = await person('wrong.codes')
  const { http, flow, base } = await passwordDone(who)
  const page = await http.get(`${base}/email-code`)
  const post = (code: string) => http.post(`${base}/email-code`, { _csrf: csrfFrom(page.text), code })
  const missing = await post('')
  assert.equal(missing.status, 400)
  assert.equal(fieldError(missing.text, 'code'), codeMessages.missing)
  assert.equal(fieldError((await post('12ab56')).text, 'code'), codeMessages.format)
  const right = await signin.latestCode(who.email)
  const wrong = right === '000000' ? '111111' : '000000'
  for (let i = 1; i < codeRules.maxWrongEntries; i++) assert.equal(fieldError((await post(wrong)).text, 'code'), codeMessages.incorrect, `wrong ${i}`)
  assert.equal(fieldError((await post(wrong)).text, 'code'), codeMessages['too-many-attempts'])
  assert.equal(fieldError((await post(right)).text, 'code'), codeMessages['too-many-attempts'], 'the right code no longer works')

  const resendPage = await http.get(`${base}/email-code/resend`)
  assert.equal(resendPage.status, 200)
  const resent = await http.post(`${base}/email-code/resend`, { _csrf: csrfFrom(resendPage.text) })
  assert.equal(resent.status, 303)
  const banner = await http.get(`${base}/email-code`)
  assert.match(visibleText(banner.text), /We've sent a new code to/)
  const fresh = await signin.latestCode(who.email)
  const tokens = await finish(http, await post(fresh), flow)
  assert.deepEqual(tokens.claims()!.amr, ['pwd', 'otp'])
})

test('an emailed code is used once and expires after 15 minutes', async () => {
  const who = await person('once.only')
  const first = await passwordDone(who)
  const code = await signin.latestCode(who.email)
  const page = await first.http.get(`${first.base}/email-code`)
  await finish(first.http, await first.http.post(`${first.base}/email-code`, { _csrf: csrfFrom(page.text), code }), first.flow)
  // Replayed in another sign-in (whose own code is newer): refused.
  const second = await passwordDone(who)
  const secondPage = await second.http.get(`${second.base}/email-code`)
  const replay = await second.http.post(`${second.base}/email-code`, { _csrf: csrfFrom(secondPage.text), code })
  if (code !== await signin.latestCode(who.email)) assert.equal(replay.status, 400)
  clock.advanceSeconds(codeRules.lifetimeMinutes['sign-in'] * 60 + 1)
  const late = await second.http.post(`${second.base}/email-code`, { _csrf: csrfFrom(secondPage.text), code: await signin.latestCode(who.email) })
  assert.equal(fieldError(late.text, 'code'), codeMessages.expired)
})

test('codes that were used do not count against the 5 an hour; unused ones do, and the sixth is refused with a wait message', async () => {
  const who = await person('many.sign.ins')
  for (let i = 0; i < codeRules.maxCodesPerHour + 2; i++) {
    const { http, flow, answer } = await passwordDone(who)
    await finish(http, await passSecondFactor(http, answer), flow)
  }
  const { http, base } = await passwordDone(who)
  for (let i = 1; i < codeRules.maxCodesPerHour; i++) {
    const resendPage = await http.get(`${base}/email-code/resend`)
    assert.equal((await http.post(`${base}/email-code/resend`, { _csrf: csrfFrom(resendPage.text) })).status, 303, `resend ${i}`)
  }
  const resendPage = await http.get(`${base}/email-code/resend`)
  const limited = await http.post(`${base}/email-code/resend`, { _csrf: csrfFrom(resendPage.text) })
  assert.equal(limited.status, 429)
  assert.match(visibleText(limited.text), /You've asked for too many codes\. Wait \d+ minutes? and try again/)
  // The next correct password also meets the limit: told so on the code page, never a 5xx.
  const next = await passwordDone(who)
  assert.equal(next.answer.status, 429)
  assert.match(visibleText(next.answer.text), /You've asked for too many codes/)
})
