import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as oidc from 'openid-client'
import { HttpSession } from '../../../test/support/http-client.ts'
import { beginFlow, discover, finishFlow, openSignIn, submit, followToCallbackOrPage } from '../../../test/support/oidc-flow.ts'
import { startTestSignin, type TestSignin } from '../../../test/support/signin.ts'
import { demoPassword } from '../../demo/personas.ts'
import { seedDevelopment } from '../seed.ts'
import { passSecondFactor } from '../../../test/support/second-factor.ts'

// openid-client (OpenID Certified RP) against Sign-in: discovery, code flow with PKCE,
// ID token validation, userinfo and RP-initiated logout.
let signin: TestSignin
const serviceUrl = 'http://localhost:4999'
let config: oidc.Configuration

before(async () => {
  signin = await startTestSignin()
  await seedDevelopment(signin.context.db, new Date(), { clientId: 'unused', secret: 'unused-secret-0123456789', placementsUrl: 'http://localhost:4998' })
  const client = await signin.registerTestClient({ baseUrl: serviceUrl })
  config = await discover(signin.url, client.clientId, client.secret)
})
after(() => signin.close())

test('discovery publishes only what Sign-in supports', () => {
  const metadata = config.serverMetadata()
  assert.equal(metadata.issuer, signin.url)
  assert.deepEqual(metadata.response_types_supported, ['code'])
  assert.deepEqual(metadata.code_challenge_methods_supported, ['S256'])
  assert.ok(metadata.end_session_endpoint)
  assert.deepEqual(metadata.grant_types_supported, ['authorization_code'])
})

test('a service signs a person in, reads userinfo and signs them out again', async () => {
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const page = await openSignIn(http, flow)
  assert.equal(page.status, 200)
  assert.match(page.text, /Test service/)

  const signedIn = await submit(http, page, page.url, { email: 'anne.wilson@example.com', password: demoPassword })
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, signedIn), flow.redirectUri)
  assert.ok(callback.url.startsWith(`${serviceUrl}/callback?`), `ended at ${callback.url}`)

  const tokens = await finishFlow(flow, callback.url)
  const claims = tokens.claims()!
  assert.equal(claims.email, 'anne.wilson@example.com')
  assert.equal(claims.email_verified, true)
  assert.equal(claims.given_name, 'Anne')
  assert.equal(claims.family_name, 'Wilson')
  assert.match(claims.sub, /^[0-9a-f-]{36}$/)
  assert.ok(!JSON.stringify(claims).includes('password'))

  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)
  assert.equal(userinfo.email, 'anne.wilson@example.com')

  // Signed in at Sign-in already: a second service request goes straight through.
  const again = await beginFlow(config, `${serviceUrl}/callback`)
  const silent = await openSignIn(http, again)
  assert.ok(silent.url.startsWith(`${serviceUrl}/callback?`), 'single sign-on without the password')
  const second = await finishFlow(again, silent.url)
  assert.equal(second.claims()!.sub, claims.sub, 'sub is stable')

  const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${serviceUrl}/signed-out` })
  const confirm = await http.get(logoutUrl)
  assert.equal(confirm.status, 200)
  const xsrf = confirm.text.match(/name="xsrf" value="([^"]+)"/)![1]!
  const done = await http.post(new URL('/session/end/confirm', signin.url), { xsrf, logout: 'yes' })
  assert.equal(done.status, 303)
  assert.equal(done.headers.get('location'), `${serviceUrl}/signed-out`)

  // The Sign-in session is over: the next request asks for the password again.
  const afterLogout = await openSignIn(http, await beginFlow(config, `${serviceUrl}/callback`))
  assert.equal(afterLogout.status, 200)
  assert.match(afterLogout.text, /name="password"/)
})

test('a redirect URI that is not registered exactly is refused', async () => {
  const http = new HttpSession()
  for (const wrong of [`${serviceUrl}/callback/`, `${serviceUrl}/callback?x=1`, `${serviceUrl}/CALLBACK`, 'http://localhost:5000/callback']) {
    const flow = await beginFlow(config, wrong)
    const response = await http.get(flow.authorizationUrl)
    assert.equal(response.status, 400, wrong)
    assert.match(response.text, /There is a problem with this sign-in link/)
  }
})

test('PKCE is required and only S256 is accepted', async () => {
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const withoutPkce = new URL(flow.authorizationUrl)
  withoutPkce.searchParams.delete('code_challenge')
  withoutPkce.searchParams.delete('code_challenge_method')
  const plain = new URL(flow.authorizationUrl)
  plain.searchParams.set('code_challenge_method', 'plain')
  for (const url of [withoutPkce, plain]) {
    const response = await http.get(url)
    assert.equal(response.status, 303)
    const location = new URL(response.headers.get('location')!)
    assert.equal(location.searchParams.get('error'), 'invalid_request')
    assert.equal(location.searchParams.get('code'), null)
  }
})

test('implicit and hybrid flows are refused', async () => {
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  for (const responseType of ['token', 'id_token', 'code id_token']) {
    const url = new URL(flow.authorizationUrl)
    url.searchParams.set('response_type', responseType)
    const response = await http.get(url)
    const location = response.headers.get('location') ?? ''
    assert.ok(response.status === 400 || /error=unsupported_response_type|error=/.test(location), `${responseType}: ${response.status} ${location}`)
    assert.ok(!/access_token|id_token=/.test(location))
  }
})

test('an authorization code works once, and a replay is refused', async () => {
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const page = await openSignIn(http, flow)
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, await submit(http, page, page.url, { email: 'patricia.adebayo@example.com', password: demoPassword })), flow.redirectUri)
  await finishFlow(flow, callback.url)
  await assert.rejects(() => finishFlow(flow, callback.url), (error: { error?: string }) => error.error === 'invalid_grant')
})

test('8 token requests with one authorization code at once: one gets tokens, every other is refused', async () => {
  // Fewer than the 10 client authentications per client and address the limiter lets be in flight at once.
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const page = await openSignIn(http, flow)
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, await submit(http, page, page.url, { email: 'patricia.adebayo@example.com', password: demoPassword })), flow.redirectUri)
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => finishFlow(flow, callback.url)))
  assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1)
  for (const result of results) {
    if (result.status === 'rejected') assert.equal((result.reason as { error?: string }).error, 'invalid_grant', String(result.reason))
  }
})

test('a wrong client secret is refused at the token endpoint', async () => {
  const metadata = config.serverMetadata()
  const response = await fetch(metadata.token_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from('test-service:wrong').toString('base64') },
    body: 'grant_type=authorization_code&code=abc&redirect_uri=' + encodeURIComponent(`${serviceUrl}/callback`)
  })
  assert.equal(response.status, 401)
  assert.equal((await response.json() as { error: string }).error, 'invalid_client')
})

test('the JWKS publishes public keys only', async () => {
  const jwks = await (await fetch(config.serverMetadata().jwks_uri!)).json() as { keys: Record<string, unknown>[] }
  assert.ok(jwks.keys.length >= 1)
  for (const key of jwks.keys) {
    assert.equal(key.d, undefined)
    assert.equal(key.p, undefined)
    assert.ok(key.kid)
  }
})
