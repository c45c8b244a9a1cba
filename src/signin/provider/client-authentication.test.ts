import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { FakeClock } from '../../platform/clock.ts'
import { startTestSignin, type TestSignin } from '../../../test/support/signin.ts'
import { clientAuthenticationRules } from './client-authentication.ts'
import { digestSecret } from './clients.ts'

// Client authentication at every endpoint discovery lists (docs/security.md, "client
// secrets"): the secret a service was given is accepted and its stored digest is not,
// whichever endpoint and whichever way it is presented; and failed authentications are
// limited, counted before the provider checks them.
const serviceUrl = 'http://localhost:4999'
const clock = new FakeClock(new Date())
let signin: TestSignin
let client: { clientId: string, secret: string }
let metadata: Record<string, unknown>

before(async () => {
  signin = await startTestSignin({ clock })
  client = await signin.registerTestClient({ baseUrl: serviceUrl })
  metadata = await (await fetch(`${signin.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>
})
after(() => signin.close())

/** A request each client-authenticating endpoint would accept from a genuine client (or refuse on its merits, never with 401). */
const requests: Record<string, Record<string, string>> = {
  token_endpoint: { grant_type: 'authorization_code', code: 'not-a-real-code', redirect_uri: `${serviceUrl}/callback`, code_verifier: 'v'.repeat(43) },
  revocation_endpoint: { token: 'not-a-real-token' },
  introspection_endpoint: { token: 'not-a-real-token' },
  pushed_authorization_request_endpoint: {
    client_id: 'test-service', response_type: 'code', redirect_uri: `${serviceUrl}/callback`, scope: 'openid', state: 'state-0123456789', nonce: 'nonce-0123456789',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256'
  }
}
const clientAuthenticatedEndpoints = [...Object.keys(requests), 'device_authorization_endpoint', 'backchannel_authentication_endpoint']

const basic = (id: string, secret: string) => ({ authorization: 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64') })

async function post(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } })
}

test('every endpoint that authenticates clients accepts the real secret and refuses the stored digest, in Basic credentials and in the body', async () => {
  const listed = clientAuthenticatedEndpoints.filter((name) => typeof metadata[name] === 'string')
  assert.ok(listed.includes('token_endpoint') && listed.includes('pushed_authorization_request_endpoint'), `listed: ${listed.join(', ')}`)
  for (const name of listed) {
    const form = requests[name]
    assert.ok(form, `discovery lists ${name}: add a request for it to this test`)
    const url = metadata[name] as string
    const digest = digestSecret(client.secret)
    const viaBasic = await post(url, form, basic(client.clientId, client.secret))
    assert.notEqual(viaBasic.status, 401, `${name}, real secret in Basic: ${await viaBasic.text()}`)
    const viaBody = await post(url, { ...form, client_id: client.clientId, client_secret: client.secret })
    assert.notEqual(viaBody.status, 401, `${name}, real secret in the body: ${await viaBody.text()}`)
    const digestBasic = await post(url, form, basic(client.clientId, digest))
    assert.equal(digestBasic.status, 401, `${name}, the stored digest in Basic`)
    const digestBody = await post(url, { ...form, client_id: client.clientId, client_secret: digest })
    assert.equal(digestBody.status, 401, `${name}, the stored digest in the body`)
  }
})

test('a pushed authorization request with the real secret is accepted (201) and gives a request_uri', async () => {
  const response = await post(metadata.pushed_authorization_request_endpoint as string, requests.pushed_authorization_request_endpoint!, basic(client.clientId, client.secret))
  assert.equal(response.status, 201)
  assert.match(String((await response.json() as Record<string, unknown>).request_uri), /^urn:ietf:params:oauth:request_uri:/)
})

test('failed client authentications: at most 10 for a client from one IP address, even all at once; the right secret is refused until the lock ends', async () => {
  const token = metadata.token_endpoint as string
  const throttled = await signin.registerTestClient({ baseUrl: 'http://localhost:4997', clientId: 'throttled-service', secret: 'throttled-service-secret-0123456789ab' })
  const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => post(token, requests.token_endpoint!, basic(throttled.clientId, `guess-${i}`))))
  const statuses = responses.map((r) => r.status)
  assert.equal(statuses.filter((s) => s === 401).length, clientAuthenticationRules.perClientAndIp.limit, `statuses: ${statuses.join(',')}`)
  assert.equal(statuses.filter((s) => s === 429).length, 30 - clientAuthenticationRules.perClientAndIp.limit)
  const refused = responses.find((r) => r.status === 429)!
  assert.ok(Number(refused.headers.get('retry-after')) > 0)
  assert.equal((await refused.json() as Record<string, unknown>).error, 'invalid_client')

  const rightButLocked = await post(token, requests.token_endpoint!, basic(throttled.clientId, throttled.secret))
  assert.equal(rightButLocked.status, 429)
  const otherClient = await post(token, requests.token_endpoint!, basic(client.clientId, client.secret))
  assert.notEqual(otherClient.status, 429, 'another client from the same address is not affected')
  clock.advanceSeconds(clientAuthenticationRules.perClientAndIp.lockSeconds)
  const afterLock = await post(token, requests.token_endpoint!, basic(throttled.clientId, throttled.secret))
  assert.equal(afterLock.status, 400, 'authenticated again (the code itself is refused)')
})

test('a burst of genuine requests past the limit is refused only while it lasts: the service is not locked out afterwards', async () => {
  // A service whose token requests pile up (a slow moment) has more than 10 in flight at once.
  const token = metadata.token_endpoint as string
  const busy = await signin.registerTestClient({ baseUrl: 'http://localhost:4996', clientId: 'busy-service', secret: 'busy-service-secret-0123456789abcdef' })
  const statuses = (await Promise.all(Array.from({ length: 30 }, () => post(token, requests.token_endpoint!, basic(busy.clientId, busy.secret))))).map((r) => r.status)
  // On the servers the burst goes past the limit (some 429s); PGlite answers one request at a time, so there it does not.
  assert.ok(statuses.every((s) => s === 400 || s === 429), `statuses: ${statuses.join(',')}`)
  const wrongSecret = await post(token, requests.token_endpoint!, basic(busy.clientId, 'a-wrong-secret'))
  assert.equal(wrongSecret.status, 401, 'checked, not refused by a lock the burst left behind')
  assert.equal((await post(token, requests.token_endpoint!, basic(busy.clientId, busy.secret))).status, 400, 'authenticated (the code itself is refused)')
})

test('a genuine client is never slowed by its own successes', async () => {
  const token = metadata.token_endpoint as string
  for (let i = 0; i < clientAuthenticationRules.perClientAndIp.limit * 2; i++) {
    assert.equal((await post(token, requests.token_endpoint!, basic(client.clientId, client.secret))).status, 400, `request ${i + 1}`)
  }
})

// It uses up this file's allowance for its IP address, then moves time past it, so the tests
// after it (in any order) start with the allowance whole again.
test('failed client authentications from one IP address: at most 50 an hour across clients, even all at once', async () => {
  const token = metadata.token_endpoint as string
  const responses = await Promise.all(Array.from({ length: 80 }, (_, i) => post(token, requests.token_endpoint!, basic(`made-up-client-${i}`, 'any-secret'))))
  const failed = responses.filter((r) => r.status === 401).length
  assert.ok(failed <= clientAuthenticationRules.perIp.limit, `${failed} checked`)
  assert.equal(responses.filter((r) => r.status === 429).length, 80 - failed)
  clock.advanceSeconds(3600)
})
