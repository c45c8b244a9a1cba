import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { HttpResponse } from '../../../test/support/http-client.ts'
import { finishFlow, followToCallbackOrPage, submit } from '../../../test/support/oidc-flow.ts'
import { signinTestHarness } from '../../../test/support/signin.ts'
import { addAccount, startJourney } from '../../../test/support/signin-pages.ts'
import { normaliseEmail } from '../accounts/accounts.ts'
import { codeRules } from '../accounts/emailed-codes.ts'
import { defaultHashing, limitPasswordHashing } from '../accounts/passwords.ts'
import { throttleRules } from '../accounts/sign-in-throttle.ts'
import { passSecondFactor } from '../../../test/support/second-factor.ts'

// Every limit holds when the requests arrive together (docs/security.md): these fire
// them all at once over real HTTP and count what was actually checked in the audit
// trail and the database, never from timings. Both test passes run them: PGlite, and
// the PostgreSQL server with Redis (where the requests truly run in parallel).
// Each test fires its burst from a browser() of its own: its own IP address and its own
// allowance of 100 failures an hour.
const { signin, config, clock, redirectUri, browser } = await signinTestHarness()

/** Password checks made for these addresses: each one leaves exactly one "sign-in" audit event. */
async function passwordChecks(emails: string[]): Promise<number> {
  const rows = await signin.context.db.selectFrom('audit_events').select(({ fn }) => fn.countAll<string>().as('n'))
    .where('event', '=', 'sign-in').where('email', 'in', emails).executeTakeFirstOrThrow()
  return Number(rows.n)
}

const statuses = (responses: HttpResponse[]) => responses.reduce<Record<number, number>>((counts, r) => ({ ...counts, [r.status]: (counts[r.status] ?? 0) + 1 }), {})

test('50 wrong passwords at once for one address: at most 5 are checked, and then even the right one is refused for 15 minutes', async () => {
  const email = 'parallel.target@example.com'
  const password = 'the-parallel-target-password'
  await addAccount(signin.context.db, { email, password })
  const http = browser()
  const { page, flow } = await startJourney(http, config, redirectUri)
  const guesses = Array.from({ length: 50 }, (_, i) => i === 30 ? password : `parallel-wrong-guess-${i}`)
  const responses = await Promise.all(guesses.map((guess) => submit(http, page, page.url, { email, password: guess })))

  const checks = await passwordChecks([email])
  assert.ok(checks <= throttleRules.failuresBeforeLockout, `${checks} passwords were checked (${JSON.stringify(statuses(responses))})`)
  const rightOne = responses[30]!
  if (rightOne.status === 303) {
    // The right password happened to be among the first five: it signed in and cleared the count.
    assert.ok(checks <= throttleRules.failuresBeforeLockout)
    return
  }
  assert.equal(rightOne.status, 429, 'the right password, arriving past the limit, is refused like the rest')
  assert.equal(responses.filter((r) => r.status === 429).length, 50 - checks + 1, 'everything past the fifth check is refused (the fifth itself locks)')

  const afterwards = await submit(http, page, page.url, { email, password })
  assert.equal(afterwards.status, 429, 'the right password afterwards is refused until the lockout ends')
  clock.advanceSeconds(throttleRules.lockoutMinutes * 60)
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, await submit(http, page, page.url, { email, password })), redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url}`)
  assert.equal((await finishFlow(flow, callback.url)).claims()!.email, email)
})

test('20 "send me a code" requests at once for one address: at most 5 codes are issued', async () => {
  const email = 'parallel.codes@example.com'
  await addAccount(signin.context.db, { email, password: 'parallel-codes-password' })
  const http = browser()
  const { base } = await startJourney(http, config, redirectUri)
  const form = await http.get(`${base}/forgotten-password`)
  const responses = await Promise.all(Array.from({ length: 20 }, () => submit(http, form, `${base}/forgotten-password`, { email })))

  const codes = await signin.context.db.selectFrom('verification_codes').select('id').where('email_normalised', '=', normaliseEmail(email)).execute()
  assert.equal(codes.length, codeRules.maxCodesPerHour, `${codes.length} codes issued (${JSON.stringify(statuses(responses))})`)
  assert.equal(responses.filter((r) => r.status === 303).length, codeRules.maxCodesPerHour)
  assert.equal(responses.filter((r) => r.status === 429).length, 20 - codeRules.maxCodesPerHour)
  const emails = await signin.context.db.selectFrom('outbox').select('id').where('recipient', '=', email).execute()
  assert.equal(emails.length, codeRules.maxCodesPerHour, 'one email per code issued')
})

test('50 guesses at one code at once: at most 5 are counted, and the code is dead afterwards', async () => {
  const email = 'parallel.guesses@example.com'
  await addAccount(signin.context.db, { email, password: 'parallel-guesses-password' })
  const http = browser()
  const { base } = await startJourney(http, config, redirectUri)
  const form = await http.get(`${base}/forgotten-password`)
  assert.equal((await submit(http, form, `${base}/forgotten-password`, { email })).status, 303)
  const code = await signin.latestCode(email)
  const wrong = (i: number) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0')
  const checkEmail = await http.get(`${base}/forgotten-password/check-email`)
  await Promise.all(Array.from({ length: 50 }, (_, i) => submit(http, checkEmail, `${base}/forgotten-password/check-email`, { code: wrong(i) })))

  const row = await signin.context.db.selectFrom('verification_codes').selectAll().where('email_normalised', '=', normaliseEmail(email)).executeTakeFirstOrThrow()
  assert.equal(row.wrong_attempts, codeRules.maxWrongEntries, `${row.wrong_attempts} wrong entries counted`)
  assert.ok(row.closed_at, 'the code is killed')
  const right = await submit(http, checkEmail, `${base}/forgotten-password/check-email`, { code })
  assert.equal(right.status, 400, 'the right code no longer works')
})

test('a burst past the hashing queue is refused at once (503), and a refused attempt does not count against its address', async (t) => {
  limitPasswordHashing({ concurrency: 1, maxWaiting: 2 })
  t.after(() => limitPasswordHashing(defaultHashing))
  const emails = Array.from({ length: 12 }, (_, i) => `busy.burst.${i}@example.com`)
  const http = browser()
  const { page } = await startJourney(http, config, redirectUri)
  const responses = await Promise.all(emails.map((email) => submit(http, page, page.url, { email, password: 'a-burst-of-wrong-guesses' })))
  limitPasswordHashing(defaultHashing)
  const refused = emails.filter((_, i) => responses[i]!.status === 503)
  assert.ok(refused.length > 0, `none refused: ${JSON.stringify(statuses(responses))}`)
  const busy = responses.find((r) => r.status === 503)!
  assert.match(busy.text, /Sorry, the service is unavailable/, 'the GOV.UK service unavailable page')
  assert.ok(Number(busy.headers.get('retry-after')) > 0)
  assert.equal(await passwordChecks(refused), 0, 'refused attempts were never checked')

  // The refused address still has all five attempts: four wrong ones are ordinary failures.
  const [address] = refused
  for (let attempt = 1; attempt < throttleRules.failuresBeforeLockout; attempt++) {
    assert.equal((await submit(http, page, page.url, { email: address!, password: `wrong-after-burst-${attempt}` })).status, 400, `attempt ${attempt}`)
  }
  assert.equal((await submit(http, page, page.url, { email: address!, password: 'wrong-after-burst-5' })).status, 429, 'the fifth locks')
})

test('200 wrong passwords at once from one IP address across 200 addresses: at most 100 are checked', async () => {
  const emails = Array.from({ length: 200 }, (_, i) => `spray.${i}@example.com`)
  const http = browser()
  const { page } = await startJourney(http, config, redirectUri)
  const responses = await Promise.all(emails.map((email) => submit(http, page, page.url, { email, password: 'one-common-guess-for-all' })))

  const checks = await passwordChecks(emails)
  assert.ok(checks <= throttleRules.failuresPerIpPerHour, `${checks} passwords were checked (${JSON.stringify(statuses(responses))})`)
  assert.equal(responses.filter((r) => r.status === 429).length, 200 - checks)
})
