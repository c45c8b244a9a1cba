import { createHash } from 'node:crypto'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HttpSession, type HttpResponse } from '../../../../test/support/http-client.ts'
import { finishFlow, followToCallbackOrPage, submit } from '../../../../test/support/oidc-flow.ts'
import { uniqueWord } from '../../../../test/support/builders.ts'
import { signinTestHarness } from '../../../../test/support/signin.ts'
import { addAccount, comparablePage, errorSummary, inputValue, pageTitle, startJourney, visibleText, type StartedJourney } from '../../../../test/support/signin-pages.ts'
import { passwordMessages } from '../../accounts/password-policy.ts'
import { codeMessages } from '../steps/code-step.ts'
import { appCodeAt } from '../../accounts/authenticator-app.ts'
import { acrValues, secondFactorsOf } from '../../accounts/factors.ts'

// Create an account on the way to a service, over real HTTP: every step, its errors,
// the code rules (docs/security.md, "verification codes") and no enumeration.
const { signin, config, clock, redirectUri } = await signinTestHarness()

interface Person { givenName: string, familyName: string, email: string }
const goodPassword = 'marmalade lighthouse violin'

/** Starts at the service and fills in "Create an account"; returns the confirm-email page. */
async function register(person: Person, http = new HttpSession()): Promise<StartedJourney & { http: HttpSession, confirm: HttpResponse }> {
  const journey = await startJourney(http, config, redirectUri)
  const form = await http.get(`${journey.base}/create-account`)
  const sent = await submit(http, form, `${journey.base}/create-account`, { ...person })
  assert.equal(sent.status, 303, `create-account: ${errorSummary(sent.text).map((e) => e.text).join('; ')}`)
  assert.equal(sent.headers.get('location'), `/interaction/${uidOf(journey.base)}/confirm-email`)
  return { ...journey, http, confirm: await http.get(`${journey.base}/confirm-email`) }
}

const uidOf = (base: string) => new URL(base).pathname.split('/')[2]!
const enterCode = (j: { http: HttpSession, confirm: HttpResponse, base: string }, code: string) => submit(j.http, j.confirm, `${j.base}/confirm-email`, { code })
const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0')
const messagesOf = (page: HttpResponse) => errorSummary(page.text).map((e) => e.text)

test('the whole journey ends at the service with an ID token for the new account', async () => {
  const http = new HttpSession()
  const journey = await startJourney(http, config, redirectUri, { login_hint: 'grace.hopper@example.com' })
  const form = await http.get(`${journey.base}/create-account`)
  assert.equal(inputValue(form.text, 'email'), 'grace.hopper@example.com', 'the invited address is pre-filled')
  assert.match(visibleText(form.text), /To continue to Test service/)

  const person = { givenName: 'Grace', familyName: 'Hopper', email: 'grace.hopper@example.com' }
  const sent = await submit(http, form, `${journey.base}/create-account`, person)
  assert.equal(sent.status, 303)
  const confirm = await http.follow(sent)
  assert.match(visibleText(confirm.text), /We've sent a code to grace\.hopper@example\.com/)
  assert.match(confirm.text, /autocomplete="one-time-code"/)
  const code = await signin.latestCode(person.email)
  const confirmed = await submit(http, confirm, `${journey.base}/confirm-email`, { code })
  assert.equal(confirmed.headers.get('location'), `/interaction/${uidOf(journey.base)}/create-password`)
  const passwordPage = await http.follow(confirmed)
  const created = await submit(http, passwordPage, `${journey.base}/create-password`, { password: goodPassword, confirmPassword: goodPassword })
  assert.equal(created.status, 303)
  const complete = await http.follow(created)
  assert.match(visibleText(complete.text), /Your account has been created/)
  assert.match(visibleText(complete.text), /Continue to Test service/)

  const callback = await followToCallbackOrPage(http, await submit(http, complete, `${journey.base}/registration-complete`, {}), redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url}`)
  const claims = (await finishFlow(journey.flow, callback.url)).claims()!
  assert.equal(claims.email, person.email)
  assert.equal(claims.email_verified, true)
  assert.equal(claims.given_name, 'Grace')
  assert.equal(claims.family_name, 'Hopper')
  const account = await signin.context.db.selectFrom('accounts').selectAll().where('email_normalised', '=', person.email).executeTakeFirstOrThrow()
  assert.equal(claims.sub, account.id)
  const audit = await signin.context.db.selectFrom('audit_events').select(['event', 'outcome', 'account_id']).where('email', '=', person.email).execute()
  assert.ok(audit.some((e) => e.event === 'account-created' && e.outcome === 'success' && e.account_id === account.id), 'account creation is audited')
  assert.ok(!JSON.stringify(audit).includes(code) && !JSON.stringify(audit).includes(goodPassword))
})

test('create-account validation: each field missing, over-long, wrong format or with control characters', async () => {
  const http = new HttpSession()
  const { base } = await startJourney(http, config, redirectUri)
  const form = await http.get(`${base}/create-account`)
  const post = (fields: Record<string, string>) => submit(http, form, `${base}/create-account`, fields)
  // Addresses of this test's own, so "nothing is sent" cannot see another test's email.
  const word = uniqueWord()
  const good = { givenName: 'Ada', familyName: 'Lovelace', email: `ada.${word}@example.com` }

  const empty = await post({ givenName: '', familyName: '', email: '' })
  assert.equal(empty.status, 400)
  assert.match(pageTitle(empty.text), /^Error: Create an account/)
  assert.deepEqual(errorSummary(empty.text), [
    { href: '#givenName', text: 'Enter your first name' },
    { href: '#familyName', text: 'Enter your last name' },
    { href: '#email', text: 'Enter your email address' }
  ])
  const cases: Array<[Record<string, string>, string]> = [
    [{ ...good, givenName: 'A'.repeat(101) }, 'First name must be 100 characters or fewer'],
    [{ ...good, familyName: 'L'.repeat(101) }, 'Last name must be 100 characters or fewer'],
    [{ ...good, email: `ada.${word}.example.com` }, 'Enter an email address in the correct format, like name@example.com'],
    [{ ...good, email: `ada.${word}@lovelace` }, 'Enter an email address in the correct format, like name@example.com'],
    [{ ...good, email: `${word}${'a'.repeat(250 - word.length)}@example.com` }, 'Email address must be 254 characters or fewer'],
    [{ ...good, givenName: 'A\u0000da' }, 'First name must only include letters a to z, hyphens, spaces and apostrophes'],
    [{ ...good, familyName: 'Love\u0007lace' }, 'Last name must only include letters a to z, hyphens, spaces and apostrophes'],
    [{ ...good, email: `ada.${word}\u0001@example.com` }, 'Enter an email address in the correct format, like name@example.com']
  ]
  for (const [fields, message] of cases) {
    const response = await post(fields)
    assert.equal(response.status, 400, message)
    assert.deepEqual(messagesOf(response), [message])
  }
  const outbox = await signin.context.db.selectFrom('outbox').select('recipient').where('recipient', 'like', `%${word}%`).execute()
  assert.deepEqual(outbox, [], 'nothing is sent for a form with errors')
})

test('confirm email: missing code, wrong format and wrong code are explained; the right code then works, once', async () => {
  const j = await register({ givenName: 'Mae', familyName: 'Jemison', email: 'mae.jemison@example.com' })
  const code = await signin.latestCode('mae.jemison@example.com')
  const missing = await enterCode(j, '')
  assert.equal(missing.status, 400)
  assert.match(pageTitle(missing.text), /^Error: Check your email/)
  assert.deepEqual(messagesOf(missing), [codeMessages.missing])
  for (const bad of ['12345', '1234567', 'abcdef', '12 34 5x']) {
    const response = await enterCode(j, bad)
    assert.deepEqual(messagesOf(response), [codeMessages.format], bad)
    assert.equal(inputValue(response.text, 'code'), bad, 'what was typed is kept, to correct')
  }
  const wrong = await enterCode(j, wrongCode(code))
  assert.equal(wrong.status, 400)
  assert.deepEqual(messagesOf(wrong), [codeMessages.incorrect])
  assert.match(wrong.text, new RegExp(`<a class="govuk-link" href="/interaction/[^"]+/resend-code">Resend the code</a>`), 'resending is one plain link')
  assert.doesNotMatch(wrong.text, /govuk-details/, 'no details to open first')

  clock.advanceSeconds(59 * 60) // still within the hour
  const right = await enterCode(j, code.replace(/^(\d{3})/, '$1 '))
  assert.equal(right.status, 303, 'a code typed with a space is accepted')
  const again = await enterCode(j, code)
  assert.equal(again.status, 400, 'a code works once')
})

test('5 wrong codes kill the code: even the right one is then refused', async () => {
  const j = await register({ givenName: 'Katherine', familyName: 'Johnson', email: 'katherine.johnson@example.com' })
  const code = await signin.latestCode('katherine.johnson@example.com')
  const results: string[][] = []
  for (let i = 0; i < 5; i++) results.push(messagesOf(await enterCode(j, wrongCode(code))))
  assert.deepEqual(results.slice(0, 4), Array(4).fill([codeMessages.incorrect]))
  assert.deepEqual(results[4], [codeMessages['too-many-attempts']])
  const right = await enterCode(j, code)
  assert.equal(right.status, 400)
  assert.deepEqual(messagesOf(right), [codeMessages['too-many-attempts']])
})

test('an email confirmation code expires after 60 minutes', async () => {
  const j = await register({ givenName: 'Dorothy', familyName: 'Vaughan', email: 'dorothy.vaughan@example.com' })
  const code = await signin.latestCode('dorothy.vaughan@example.com')
  clock.advanceSeconds(60 * 60)
  const late = await enterCode(j, code)
  assert.equal(late.status, 400)
  assert.deepEqual(messagesOf(late), [codeMessages.expired])
})

test('resending to a corrected address: a new code to the new address, the old one dead, a banner, and the journey goes on', async () => {
  const j = await register({ givenName: 'Mary', familyName: 'Jackson', email: 'mary.jackson@exmaple.com' })
  const oldCode = await signin.latestCode('mary.jackson@exmaple.com')
  const resendPage = await j.http.get(`${j.base}/resend-code`)
  assert.equal(inputValue(resendPage.text, 'email'), 'mary.jackson@exmaple.com', 'pre-filled, to correct')
  const resent = await submit(j.http, resendPage, `${j.base}/resend-code`, { email: 'mary.jackson@example.com' })
  assert.equal(resent.status, 303)
  const confirm = await j.http.follow(resent)
  assert.match(visibleText(confirm.text), /We've sent a new code to mary\.jackson@example\.com/)
  assert.match(confirm.text, /govuk-notification-banner--success/)
  assert.match(visibleText(confirm.text), /We've sent a code to mary\.jackson@example\.com/)
  const newCode = await signin.latestCode('mary.jackson@example.com')
  assert.notEqual(newCode, oldCode)

  const withOld = await enterCode({ ...j, confirm }, oldCode)
  assert.equal(withOld.status, 400, 'the code sent to the mistyped address no longer works')
  const withNew = await enterCode({ ...j, confirm }, newCode)
  assert.equal(withNew.status, 303)
  const passwordPage = await j.http.follow(withNew)
  const created = await submit(j.http, passwordPage, `${j.base}/create-password`, { password: goodPassword, confirmPassword: goodPassword })
  const complete = await j.http.follow(created)
  const callback = await followToCallbackOrPage(j.http, await submit(j.http, complete, `${j.base}/registration-complete`, {}), redirectUri)
  const claims = (await finishFlow(j.flow, callback.url)).claims()!
  assert.equal(claims.email, 'mary.jackson@example.com')
})

test('resending to the same address replaces the old code', async () => {
  const j = await register({ givenName: 'Annie', familyName: 'Easley', email: 'annie.easley@example.com' })
  const oldCode = await signin.latestCode('annie.easley@example.com')
  const resendPage = await j.http.get(`${j.base}/resend-code`)
  clock.advanceSeconds(1) // "newest" is by creation time: keep the two codes apart
  await submit(j.http, resendPage, `${j.base}/resend-code`, { email: 'annie.easley@example.com' })
  const newCode = await signin.latestCode('annie.easley@example.com')
  assert.notEqual(newCode, oldCode)
  assert.equal((await enterCode(j, oldCode)).status, 400)
  assert.equal((await enterCode(j, newCode)).status, 303)
})

test('more than 5 codes an hour for one address: 429 and how long to wait', async () => {
  const j = await register({ givenName: 'Hedy', familyName: 'Lamarr', email: 'hedy.lamarr@example.com' })
  const resendPage = await j.http.get(`${j.base}/resend-code`)
  const resend = () => submit(j.http, resendPage, `${j.base}/resend-code`, { email: 'hedy.lamarr@example.com' })
  for (let i = 2; i <= 5; i++) assert.equal((await resend()).status, 303, `code ${i}`)
  const sixth = await resend()
  assert.equal(sixth.status, 429)
  assert.deepEqual(messagesOf(sixth), [codeMessages.limited(60)])
  assert.match(messagesOf(sixth)[0]!, /Wait 60 minutes/)
  assert.match(sixth.text, /If you need help, email <a class="govuk-link" href="mailto:signin-support@example\.com">/, 'too many codes: where to get help')
  const sentCodes = await signin.context.db.selectFrom('outbox').select('body').where('recipient', '=', 'hedy.lamarr@example.com').execute()
  assert.equal(sentCodes.length, 5, 'no sixth email')
  clock.advanceSeconds(60 * 60)
  assert.equal((await resend()).status, 303, 'allowed again an hour after the first')
})

test('create password: too short, too long, common, personal and mismatched passwords are refused', async () => {
  const person = { givenName: 'Rosalind', familyName: 'Franklin', email: 'rosalind.franklin@example.com' }
  const j = await register(person)
  const confirmed = await enterCode(j, await signin.latestCode(person.email))
  const page = await j.http.follow(confirmed)
  assert.match(visibleText(page.text), /Create your password/)
  const post = (password: string, confirmPassword = password) => submit(j.http, page, `${j.base}/create-password`, { password, confirmPassword })
  const tooLong = 'x'.repeat(257 - 12) + 'é-marmalade!'
  const cases: Array<[string, string, string, string]> = [
    ['missing', '', '', passwordMessages.missing],
    ['14 code points (28 UTF-16 units)', '🦊🐙🦉🐝🦋🐢🦔🐧🦀🐳🦩🐌🦜🐞', '🦊🐙🦉🐝🦋🐢🦔🐧🦀🐳🦩🐌🦜🐞', passwordMessages['too-short']],
    ['257 code points', tooLong, tooLong, passwordMessages['too-long']],
    ['common', 'passwordpassword', 'passwordpassword', passwordMessages['too-common']],
    ['contains the name', 'rosalind-likes-x-rays', 'rosalind-likes-x-rays', passwordMessages['contains-personal']],
    ['contains the email', 'my rosalind.franklin@example.com!', 'my rosalind.franklin@example.com!', passwordMessages['contains-personal']]
  ]
  for (const [label, password, confirmation, message] of cases) {
    if (label === '257 code points') assert.equal([...password].length, 257)
    const response = await post(password, confirmation)
    assert.equal(response.status, 400, label)
    assert.match(pageTitle(response.text), /^Error: /, label)
    assert.deepEqual(errorSummary(response.text), [{ href: '#password', text: message }], label)
  }
  const mismatch = await post(goodPassword, goodPassword + '!')
  assert.deepEqual(errorSummary(mismatch.text), [{ href: '#confirmPassword', text: passwordMessages.mismatch }])
  const noAccount = await signin.context.db.selectFrom('accounts').select('id').where('email_normalised', '=', person.email).execute()
  assert.deepEqual(noAccount, [])
  // 15 code points is enough.
  assert.equal((await post('violet kettle 9')).status, 303)
})

test('an address that already has an account: same answer as a new one, the owner is told, nothing else happens', async () => {
  await addAccount(signin.context.db, { email: 'existing.owner@example.com', password: 'existing-owner-password' }, clock.now())
  const fresh = await register({ givenName: 'New', familyName: 'Person', email: 'brand.new.person@example.com' })
  const taken = await register({ givenName: 'New', familyName: 'Person', email: 'existing.owner@example.com' })
  assert.equal(taken.confirm.status, fresh.confirm.status)
  assert.equal(comparablePage(taken.confirm.text, ['existing.owner@example.com']), comparablePage(fresh.confirm.text, ['brand.new.person@example.com']))

  const emails = await signin.context.db.selectFrom('outbox').select(['subject', 'body']).where('recipient', '=', 'existing.owner@example.com').execute()
  assert.equal(emails.length, 1)
  assert.match(emails[0]!.subject, /You already have a DfE Sign-in account/)
  assert.doesNotMatch(emails[0]!.subject + emails[0]!.body.replace(/https?:\/\/\S+/g, ''), /\b\d{6}\b/, 'no code')
  // Every link says what it is: on its line, or as the line before it ("…sign in:").
  const lines = emails[0]!.body.split('\n').filter((l) => l.trim() !== '')
  lines.forEach((line, i) => {
    if (/^https?:\/\/\S+$/.test(line)) assert.match(lines[i - 1] ?? '', /:$/, `the link "${line}" is introduced`)
  })
  const accounts = await signin.context.db.selectFrom('accounts').select('id').where('email_normalised', '=', 'existing.owner@example.com').execute()
  assert.equal(accounts.length, 1)
  assert.equal((await enterCode(taken, '123456')).status, 400, 'no code confirms the taken address')
})

test('steps cannot be skipped', async () => {
  const http = new HttpSession()
  const { base } = await startJourney(http, config, redirectUri)
  const uid = uidOf(base)
  for (const [step, backTo] of [['create-password', 'confirm-email'], ['confirm-email', 'create-account'], ['resend-code', 'create-account'], ['registration-complete', 'create-password']]) {
    const response = await http.get(`${base}/${step}`)
    assert.equal(response.status, 303, step)
    assert.equal(response.headers.get('location'), `/interaction/${uid}/${backTo}`, step)
  }
  const form = await http.get(`${base}/create-account`)
  await submit(http, form, `${base}/create-account`, { givenName: 'Skip', familyName: 'Ahead', email: 'skip.ahead@example.com' })
  const early = await http.get(`${base}/create-password`)
  assert.equal(early.headers.get('location'), `/interaction/${uid}/confirm-email`, 'not before the address is confirmed')
  const posted = await submit(http, form, `${base}/create-password`, { password: goodPassword, confirmPassword: goodPassword })
  assert.equal(posted.headers.get('location'), `/interaction/${uid}/confirm-email`)
  const finished = await submit(http, form, `${base}/registration-complete`, {})
  assert.equal(finished.headers.get('location'), `/interaction/${uid}/create-password`)
  const accounts = await signin.context.db.selectFrom('accounts').select('id').where('email_normalised', '=', 'skip.ahead@example.com').execute()
  assert.deepEqual(accounts, [])
})

test('codes are stored hashed: the verification_codes table never holds a code that was sent', async () => {
  await register({ givenName: 'Joan', familyName: 'Clarke', email: 'joan.clarke@example.com' })
  const sent = await signin.context.db.selectFrom('outbox').select('body').where('subject', 'like', '%confirmation code%').execute()
  const codes = sent.map((e) => e.body.match(/\b(\d{6})\b/)![1]!)
  assert.ok(codes.includes(await signin.latestCode('joan.clarke@example.com')))
  const rows = await signin.context.db.selectFrom('verification_codes').selectAll().execute()
  for (const row of rows) {
    assert.match(row.code_hash, /^[0-9a-f]{64}$/)
    // A hash is 64 hex digits, so any six digits may turn up inside one by chance: compare
    // whole values, and the code's plain (unkeyed) digest, never substrings of the hash.
    for (const code of codes) {
      assert.notEqual(row.code_hash, createHash('sha256').update(code).digest('hex'), 'stored keyed, not as a plain digest')
      for (const [column, value] of Object.entries(row)) {
        if (column !== 'code_hash') assert.ok(!new RegExp(`\\b${code}\\b`).test(String(value)), `code ${code} stored as sent in ${column}`)
      }
    }
  }
})

/** A new account up to "Your account has been created". */
async function createdAccount(person: Person) {
  const j = await register(person)
  await enterCode(j, await signin.latestCode(person.email))
  const passwordPage = await j.http.get(`${j.base}/create-password`)
  await submit(j.http, passwordPage, `${j.base}/create-password`, { password: goodPassword, confirmPassword: goodPassword })
  return { ...j, complete: await j.http.get(`${j.base}/registration-complete`) }
}

test('a new account has proven a password and an emailed code: continuing signs in with acr multi-factor and amr pwd, otp, without another code', async () => {
  const person = { givenName: 'Ada', familyName: 'Lovelace', email: 'ada.lovelace.amr@example.com' }
  const j = await createdAccount(person)
  assert.match(visibleText(j.complete.text), /Add a passkey or an authenticator app \(optional\)/)
  const codesBefore = await signin.context.db.selectFrom('verification_codes').select('id').where('email_normalised', '=', person.email).execute()
  const callback = await followToCallbackOrPage(j.http, await submit(j.http, j.complete, `${j.base}/registration-complete`, {}), redirectUri)
  const claims = (await finishFlow(j.flow, callback.url)).claims()!
  assert.equal(claims.acr, acrValues.multiFactor)
  assert.deepEqual(claims.amr, ['pwd', 'otp'])
  const codesAfter = await signin.context.db.selectFrom('verification_codes').select('id').where('email_normalised', '=', person.email).execute()
  assert.equal(codesAfter.length, codesBefore.length, 'no second code was sent')
})

test('creating an account ends by offering an authenticator app: it can be skipped, or set up (then recovery codes) to sign in at the app level', async () => {
  const skipper = await createdAccount({ givenName: 'Sam', familyName: 'Skip', email: 'sam.skip@example.com' })
  const offered = await submit(skipper.http, skipper.complete, `${skipper.base}/registration-complete`, { next: 'set-up-app' })
  assert.equal(offered.headers.get('location'), `/interaction/${uidOf(skipper.base)}/set-up-authenticator-app`)
  const setUpPage = await skipper.http.get(`${skipper.base}/set-up-authenticator-app`)
  assert.match(visibleText(setUpPage.text), /Skip and continue to Test service/)
  assert.doesNotMatch(visibleText(setUpPage.text), /needs you to sign in with an authenticator app/)
  const skipped = await submit(skipper.http, setUpPage, `${skipper.base}/set-up-authenticator-app/skip`, {})
  const skippedClaims = (await finishFlow(skipper.flow, (await followToCallbackOrPage(skipper.http, skipped, redirectUri)).url)).claims()!
  assert.deepEqual(skippedClaims.amr, ['pwd', 'otp'])
  const skipperAccount = await signin.context.db.selectFrom('accounts').select('id').where('email_normalised', '=', 'sam.skip@example.com').executeTakeFirstOrThrow()
  assert.deepEqual(await secondFactorsOf(signin.context.db, skipperAccount.id), ['email-code'], 'the emailed code remains; no app was added')

  const taker = await createdAccount({ givenName: 'Tess', familyName: 'Take', email: 'tess.take@example.com' })
  await submit(taker.http, taker.complete, `${taker.base}/registration-complete`, { next: 'set-up-app' })
  const setUp = await taker.http.get(`${taker.base}/set-up-authenticator-app`)
  const secret = visibleText(setUp.text.match(/id="secret-key"><code lang="en">([A-Z2-7 ]+)<\/code>/)![1]!).replace(/ /g, '')
  const confirmed = await submit(taker.http, setUp, `${taker.base}/set-up-authenticator-app`, { code: appCodeAt(secret, clock.now()) })
  assert.equal(confirmed.headers.get('location'), `/interaction/${uidOf(taker.base)}/recovery-codes`)
  const codes = await taker.http.get(`${taker.base}/recovery-codes`)
  const done = await submit(taker.http, codes, `${taker.base}/recovery-codes`, {})
  const claims = (await finishFlow(taker.flow, (await followToCallbackOrPage(taker.http, done, redirectUri)).url)).claims()!
  assert.equal(claims.acr, acrValues.app)
  assert.deepEqual(claims.amr, ['pwd', 'mfa', 'otp'])
})
