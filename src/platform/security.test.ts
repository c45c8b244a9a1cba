import assert from 'node:assert/strict'
import { createServer, type AddressInfo } from 'node:net'
import { test } from 'node:test'
import { readSigninConfig } from '../signin/config.ts'
import { HttpSession, type HttpResponse } from '../../test/support/http-client.ts'
import { followToCallbackOrPage, submit } from '../../test/support/oidc-flow.ts'
import { passSecondFactor } from '../../test/support/second-factor.ts'
import { signinTestHarness, startTestSignin } from '../../test/support/signin.ts'
import { addAccount, pageTitle, startJourney, visibleText } from '../../test/support/signin-pages.ts'
import { addConfirmedApp, newAppSecret } from '../signin/accounts/authenticator-app.ts'

// The platform's security middleware (docs/security.md, "headers", "CSRF", "input",
// "sessions"), checked against a running Sign-in over real HTTP.
const { signin, config, clock, redirectUri, serviceUrl } = await signinTestHarness()

/** Any body, any content type, with the session's cookies: what a browser's form cannot send. */
async function rawPost(http: HttpSession, url: string, body: string | Buffer, contentType = 'application/x-www-form-urlencoded'): Promise<HttpResponse> {
  const cookie = http.cookies(url).map((c) => `${c.name}=${c.value}`).join('; ')
  const response = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), redirect: 'manual', headers: { 'content-type': contentType, ...(cookie ? { cookie } : {}) } })
  return { status: response.status, headers: response.headers, url, text: await response.text() }
}

const csrfOf = (page: HttpResponse) => page.text.match(/name="_csrf" value="([^"]+)"/)![1]!

test('pages carry a nonce-based CSP without unsafe-inline, no framing, HSTS, a referrer policy and nosniff', async () => {
  const http = new HttpSession()
  const { page, base } = await startJourney(http, config, redirectUri)
  const errorPage = await http.get(new URL(`/auth?client_id=test-service&response_type=code&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`, signin.url))
  for (const response of [page, await http.get(`${base}/create-account`), await http.get(new URL('/', signin.url)), errorPage]) {
    const csp = response.headers.get('content-security-policy') ?? ''
    const nonce = csp.match(/script-src [^;]*'nonce-([A-Za-z0-9+/=]+)'/)?.[1]
    assert.ok(nonce, `${response.url}: a script nonce in ${csp}`)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.match(csp, /object-src 'none'/)
    // Every script on the page carries this response's nonce, or the browser would block it.
    const scripts = [...response.text.matchAll(/<script\b[^>]*>/g)].map(([tag]) => tag)
    assert.ok(scripts.length > 0)
    for (const tag of scripts) assert.ok(tag.includes(`nonce="${nonce}"`), `${response.url}: ${tag}`)
    const maxAge = Number(response.headers.get('strict-transport-security')?.match(/max-age=(\d+)/)?.[1])
    assert.ok(maxAge >= 365 * 24 * 3600, `HSTS for a year or more, not ${maxAge} seconds`)
    assert.ok(['no-referrer', 'strict-origin-when-cross-origin', 'same-origin', 'strict-origin'].includes(response.headers.get('referrer-policy') ?? ''))
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff')
  }
  const again = await http.get(base)
  assert.notEqual(again.headers.get('content-security-policy'), page.headers.get('content-security-policy'), 'a fresh nonce per response')
})

test('the home page is titled once: "DfE Sign-in – GOV.UK"', async () => {
  assert.equal(pageTitle((await new HttpSession().get(signin.url)).text), 'DfE Sign-in – GOV.UK')
})

test('every form page is Cache-Control: no-store', async () => {
  const http = new HttpSession()
  const { base } = await startJourney(http, config, redirectUri)
  const form = await http.get(`${base}/create-account`)
  await submit(http, form, `${base}/create-account`, { givenName: 'Cache', familyName: 'Check', email: 'cache.check@example.com' })
  const pages = ['', '/create-account', '/confirm-email', '/resend-code', '/forgotten-password']
  for (const path of pages) {
    const response = await http.get(`${base}${path}`)
    assert.equal(response.status, 200, path)
    assert.match(response.headers.get('cache-control') ?? '', /no-store/, path)
  }
  const invalid = await submit(http, form, `${base}/create-account`, { givenName: '', familyName: '', email: '' })
  assert.equal(invalid.status, 400)
  assert.match(invalid.headers.get('cache-control') ?? '', /no-store/, 'a page of errors, showing what was typed')
})

test('a POST without the CSRF token, or with a forged one, gets a 403 GOV.UK page and changes nothing', async () => {
  const email = 'csrf.target@example.com'
  await addAccount(signin.context.db, { email, password: 'csrf-target-password' })
  const http = new HttpSession()
  const { page, base } = await startJourney(http, config, redirectUri)
  const token = csrfOf(page)
  const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA')
  const otherSession = csrfOf((await startJourney(new HttpSession(), config, redirectUri)).page)
  const auditBefore = await signin.context.db.selectFrom('audit_events').select('id').execute()
  for (const csrf of [undefined, '', forged, otherSession]) {
    const fields = csrf === undefined ? {} : { _csrf: csrf }
    const signIn = await http.post(base, { ...fields, email, password: 'csrf-target-password' })
    assert.equal(signIn.status, 403, `sign in, token ${csrf}`)
    assert.match(signIn.text, /govuk-template/)
    assert.match(pageTitle(signIn.text), /This page has expired/)
    assert.equal(signIn.headers.get('location'), null, 'not signed in')
    const create = await http.post(`${base}/create-account`, { ...fields, givenName: 'Csrf', familyName: 'Victim', email: 'csrf.victim@example.com' })
    assert.equal(create.status, 403)
    const reset = await http.post(`${base}/forgotten-password`, { ...fields, email })
    assert.equal(reset.status, 403)
  }
  assert.equal((await signin.context.db.selectFrom('audit_events').select('id').execute()).length, auditBefore.length, 'nothing recorded')
  assert.deepEqual(await signin.context.db.selectFrom('verification_codes').select('id').where('email_normalised', 'in', [email, 'csrf.victim@example.com']).execute(), [])
  assert.deepEqual(await signin.context.db.selectFrom('outbox').select('id').where('recipient', 'in', [email, 'csrf.victim@example.com']).execute(), [])
  // The same session with its real token still works: the 403s were about the token alone.
  assert.equal((await submit(http, page, base, { email, password: 'wrong-password-here' })).status, 400)
})

test('a body over 16 KB is refused with 413, not a server error', async () => {
  const http = new HttpSession()
  const { page, base } = await startJourney(http, config, redirectUri)
  const response = await rawPost(http, base, `_csrf=${encodeURIComponent(csrfOf(page))}&email=${'a'.repeat(17 * 1024)}&password=x`)
  assert.equal(response.status, 413)
  assert.match(response.text, /govuk-template/)
})

test('fuzz: no malformed input to any form POST route causes a 5xx (Your account\'s too, signed in)', async () => {
  const fields = ['email', 'password', 'confirmPassword', 'code', 'givenName', 'familyName']
  const bodies: Record<string, string | Buffer> = {
    'empty': '',
    'duplicated fields': fields.map((f) => `${f}=a%40b.com&${f}=b`).join('&'),
    'control characters': fields.map((f) => `${f}=%00%01%07%08%1B%7F%C2%85%E2%80%A8x`).join('&'),
    'NUL only': fields.map((f) => `${f}=%00`).join('&'),
    'invalid percent-encoding': 'email=%E0%A4%A&password=%&code=%ZZ&givenName=%C0%AF&familyName=%ED%A0%80&confirmPassword=%',
    'bracket and prototype names': 'email[]=a&email[b]=c&__proto__[x]=1&constructor=y&hasOwnProperty=z&code[0]=1',
    'too many parameters': Array.from({ length: 60 }, (_, i) => `p${i}=${i}`).join('&'),
    'raw invalid UTF-8': Buffer.concat([Buffer.from('email='), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('&password='), Buffer.from([0xed, 0xa0, 0x80])]),
    ...Object.fromEntries(fields.map((f) => [`10,000-character ${f}`, `${f}=${'9'.repeat(10_000)}`]))
  }
  const contentTypes = ['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=utf-16', 'application/x-www-form-urlencoded; charset=iso-8859-1', 'application/x-www-form-urlencoded; charset=nonsense']

  // Three sessions, so the handlers behind the step guards see the input too.
  const fresh = new HttpSession()
  const a = await startJourney(fresh, config, redirectUri)
  const registering = new HttpSession()
  const b = await startJourney(registering, config, redirectUri)
  const createForm = await registering.get(`${b.base}/create-account`)
  await submit(registering, createForm, `${b.base}/create-account`, { givenName: 'Fuzz', familyName: 'Tester', email: 'fuzz.tester@example.com' })
  await submit(registering, createForm, `${b.base}/confirm-email`, { code: await signin.latestCode('fuzz.tester@example.com') })
  await addAccount(signin.context.db, { email: 'fuzz.reset@example.com', password: 'fuzz-reset-password' })
  const resetting = new HttpSession()
  const c = await startJourney(resetting, config, redirectUri)
  const resetForm = await resetting.get(`${c.base}/forgotten-password`)
  await submit(resetting, resetForm, `${c.base}/forgotten-password`, { email: 'fuzz.reset@example.com' })
  await submit(resetting, resetForm, `${c.base}/forgotten-password/check-email`, { code: await signin.latestCode('fuzz.reset@example.com') })

  // Part-way through a sign-in: the password is right, the second factor is asked for.
  const secondFactorRoutes = ['/email-code', '/email-code/resend', '/choose-factor', '/authenticator-app-code', '/recovery-code',
    '/recovery-code-used', '/set-up-authenticator-app', '/set-up-authenticator-app/skip', '/recovery-codes']
  const withApp = await addAccount(signin.context.db, { email: 'fuzz.app@example.com', password: 'fuzz-app-password-long' })
  await addConfirmedApp(signin.context.db, withApp.id, newAppSecret(), signin.context.codeKey, new Date())
  const secondFactor = new HttpSession()
  const d = await startJourney(secondFactor, config, redirectUri)
  await submit(secondFactor, d.page, d.base, { email: 'fuzz.app@example.com', password: 'fuzz-app-password-long' })
  // A new session (and CSRF token) after the password: the token comes from the next page.
  const appPage = await secondFactor.get(`${d.base}/authenticator-app-code`)

  // Signed in at Sign-in, within the last 15 minutes: "Your account" and its changes (signing out everywhere last).
  await addAccount(signin.context.db, { email: 'fuzz.account@example.com', password: 'fuzz-account-password' })
  const accountHolder = new HttpSession()
  const e = await startJourney(accountHolder, config, redirectUri)
  await followToCallbackOrPage(accountHolder, await passSecondFactor(accountHolder, await submit(accountHolder, e.page, e.base, { email: 'fuzz.account@example.com', password: 'fuzz-account-password' })), redirectUri)
  const accountPage = await accountHolder.get(`${new URL(signin.url).origin}/account`)
  assert.equal(accountPage.status, 200)
  // Part-way through changing the email address, so the code page's handler sees the input too.
  const changing = await accountHolder.post(new URL('/account/change-email', signin.url), { _csrf: csrfOf(accountPage), email: 'fuzz.account.new@example.com' })
  assert.equal(changing.status, 303)
  const accountRoutes = ['/account/change-name', '/account/change-password', '/account/change-email', '/account/change-email/check-your-email',
    '/account/change-email/resend', '/account/authenticator-app', '/account/authenticator-app/remove', '/account/recovery-codes', '/account/recovery-codes/new',
    '/account/sign-in-again', '/account/sign-in-again/email-code', '/account/sign-in-again/email-code/resend', '/account/sign-in-again/authenticator-app-code',
    '/account/sign-in-again/recovery-code', '/account/sign-in-again/choose-factor', '/account/sign-out-everywhere']

  const interactionRoutes = ['', '/create-account', '/confirm-email', '/resend-code', '/create-password', '/registration-complete',
    '/forgotten-password', '/forgotten-password/check-email', '/forgotten-password/resend-code', '/forgotten-password/new-password', '/forgotten-password/done',
    ...secondFactorRoutes]
  const targets: Array<{ http: HttpSession, url: string, csrf?: string }> = [
    ...interactionRoutes.map((route) => ({ http: fresh, url: a.base + route, csrf: csrfOf(a.page) })),
    ...['/confirm-email', '/resend-code', '/create-password'].map((route) => ({ http: registering, url: b.base + route, csrf: csrfOf(b.page) })),
    ...['/forgotten-password/check-email', '/forgotten-password/resend-code', '/forgotten-password/new-password'].map((route) => ({ http: resetting, url: c.base + route, csrf: csrfOf(c.page) })),
    ...secondFactorRoutes.map((route) => ({ http: secondFactor, url: d.base + route, csrf: csrfOf(appPage) })),
    ...['/auth', '/token', '/token/revocation', '/token/introspection', '/me', '/session/end', '/session/end/confirm'].map((route) => ({ http: fresh, url: new URL(route, signin.url).href })),
    { http: fresh, url: `${new URL(signin.url).origin}/interaction/unknownInteraction0001` },
    ...accountRoutes.map((route) => ({ http: accountHolder, url: new URL(route, signin.url).href, csrf: csrfOf(accountPage) }))
  ]
  let requests = 0
  for (const target of targets) {
    const withToken = target.csrf ? `_csrf=${encodeURIComponent(target.csrf)}&` : ''
    for (const [name, body] of Object.entries(bodies)) {
      for (const prefix of withToken ? ['', withToken] : ['']) {
        const sent = typeof body === 'string' ? prefix + body : Buffer.concat([Buffer.from(prefix), body])
        const response = await rawPost(target.http, target.url, sent)
        requests++
        assert.ok(response.status < 500, `${target.url} ${name}${prefix ? ' (with token)' : ''}: ${response.status}`)
      }
    }
    for (const contentType of contentTypes) {
      const response = await rawPost(target.http, target.url, contentType === 'application/json'
        ? JSON.stringify({ _csrf: target.csrf, email: ['a@b.com'], password: { $gt: '' }, code: 123456 })
        : `${withToken}email=a%40b.com&password=x&code=123456`, contentType)
      requests++
      assert.ok(response.status < 500, `${target.url} as ${contentType}: ${response.status}`)
    }
  }
  assert.ok(requests > 300, `${requests} requests`)
  assert.equal((await fresh.get(a.base)).status, 200, 'still serving')
})

test('the session cookie is __Host-signin-session, Secure, HttpOnly, SameSite=Lax, Path=/ behind an https proxy', async () => {
  const port = await freePort()
  const secure = await startTestSignin({ env: { SIGNIN_URL: 'https://signin.example', TRUST_PROXY: 'true', SIGNIN_PORT: String(port) } })
  try {
    assert.equal(secure.url, 'https://signin.example')
    await secure.registerTestClient({ baseUrl: serviceUrl })
    const local = `http://localhost:${port}`
    const proxied = { 'x-forwarded-proto': 'https' }
    const http = new HttpSession()
    const authorize = new URL('/auth', local)
    for (const [key, value] of Object.entries({ client_id: 'test-service', response_type: 'code', redirect_uri: redirectUri, scope: 'openid', state: 'state-0123456789', nonce: 'nonce-0123456789', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })) {
      authorize.searchParams.set(key, value)
    }
    const redirect = await http.get(authorize, proxied)
    assert.equal(redirect.status, 303)
    const page = await http.get(new URL(redirect.headers.get('location')!, local), proxied)
    assert.equal(page.status, 200)
    const header = page.headers.getSetCookie().find((h) => h.startsWith('__Host-signin-session='))
    assert.ok(header, `set: ${page.headers.getSetCookie().join(' | ')}`)
    const attributes = header.split(';').slice(1).map((a) => a.trim().toLowerCase())
    for (const attribute of ['secure', 'httponly', 'samesite=lax', 'path=/']) assert.ok(attributes.includes(attribute), `${attribute} in ${header}`)
    assert.ok(!attributes.some((a) => a.startsWith('domain=')), '__Host- cookies have no Domain')
  } finally {
    await secure.close()
  }
})

test('behind an https proxy, a request without X-Forwarded-Proto: https is redirected (GET) or refused (POST), never a 500', async () => {
  const port = await freePort()
  const secure = await startTestSignin({ env: { SIGNIN_URL: 'https://signin.example', TRUST_PROXY: 'true', SIGNIN_PORT: String(port) } })
  try {
    await secure.registerTestClient({ baseUrl: serviceUrl })
    const local = `http://localhost:${port}`
    const authorize = `/auth?client_id=test-service&response_type=code&redirect_uri=${encodeURIComponent(redirectUri)}&scope=openid&state=state-0123456789&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`
    for (const headers of [{}, { 'x-forwarded-proto': 'http' }] as Array<Record<string, string>>) {
      const get = await fetch(local + authorize, { redirect: 'manual', headers })
      assert.equal(get.status, 308, JSON.stringify(headers))
      assert.equal(get.headers.get('location'), 'https://signin.example' + authorize)
      const post = await fetch(`${local}/token`, { method: 'POST', headers, body: new URLSearchParams({ grant_type: 'authorization_code' }) })
      assert.equal(post.status, 400)
      assert.match(post.headers.get('content-type') ?? '', /text\/html/)
    }
    const proxied = await fetch(local + authorize, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } })
    assert.equal(proxied.status, 303, 'through the proxy as https, the request goes ahead')
  } finally {
    await secure.close()
  }
})

test('an https SIGNIN_URL without TRUST_PROXY is refused at start-up with a message that says what to set', () => {
  assert.throws(() => readSigninConfig({ NODE_ENV: 'production', SIGNIN_URL: 'https://signin.example' }), /set TRUST_PROXY=true/)
  assert.doesNotThrow(() => readSigninConfig({ NODE_ENV: 'production', SIGNIN_URL: 'https://signin.example', TRUST_PROXY: 'true' }))
})

test('on http://localhost the session cookie is still HttpOnly, SameSite=Lax, Path=/', async () => {
  const http = new HttpSession()
  const { page } = await startJourney(http, config, redirectUri)
  const header = page.headers.getSetCookie().find((h) => h.startsWith('signin-session='))!
  assert.match(header, /; Path=\/; HttpOnly; SameSite=Lax$/)
})

test('an interaction nobody knows: "Your sign-in request has expired", 400, GET or POST', async () => {
  const http = new HttpSession()
  const { page } = await startJourney(http, config, redirectUri)
  const unknown = `${new URL(signin.url).origin}/interaction/neverIssuedInteraction01`
  for (const response of [await http.get(unknown), await http.post(unknown, { _csrf: csrfOf(page), email: 'a@example.com', password: 'x' })]) {
    assert.equal(response.status, 400)
    assert.match(visibleText(response.text), /Your sign-in request has expired/)
    assert.match(visibleText(response.text), /Go back to the service you were using/)
  }
})

test('an authorization request left for over 3 hours: "expired", with a link back to the service start page', { skip: process.env.REDIS_URL ? 'Redis expires interactions in real time, not by the FakeClock' : false }, async () => {
  const http = new HttpSession()
  const { base } = await startJourney(http, config, redirectUri)
  const form = await http.get(`${base}/create-account`)
  clock.advanceSeconds(3 * 3600 + 60)
  for (const response of [await http.get(base), await submit(http, form, `${base}/create-account`, { givenName: 'Late', familyName: 'Comer', email: 'late.comer@example.com' })]) {
    assert.equal(response.status, 400)
    assert.match(visibleText(response.text), /Your sign-in request has expired/)
    assert.match(response.text, new RegExp(`href="${serviceUrl}/"`), 'a link to the service start page')
    assert.match(visibleText(response.text), /Go to Test service/)
  }
})

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
