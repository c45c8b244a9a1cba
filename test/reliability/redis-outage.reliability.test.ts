import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, test } from 'node:test'
import { startCluster, clusterPassword, type Cluster } from '../support/cluster.ts'
import { HttpSession, type HttpResponse } from '../support/http-client.ts'
import { signInToPlacements } from '../support/placements-flow.ts'
import { openSigninPage, submitPassword, timed } from '../support/sign-in-steps.ts'
import { pageTitle } from '../support/signin-pages.ts'

// Redis holds the sessions, pending sign-ins, provider artifacts and rate-limit counters.
// While it is down every page that needs it answers at once with the GOV.UK "service
// unavailable" page (503, Retry-After): no request waits on a queue, none gets an empty
// answer. When it is back the nodes carry on by themselves.
let cluster: Cluster

before(async () => {
  cluster = await startCluster()
})
after(() => cluster?.close())

const unique = () => randomBytes(4).toString('hex')
const nodes = () => [...cluster.signin.nodes, ...cluster.placements.nodes]

/** The GOV.UK service unavailable page: status, Retry-After, title, no caching. */
function assertUnavailablePage(response: HttpResponse | undefined, what: string): void {
  assert.ok(response, `${what}: answered`)
  assert.equal(response.status, 503, `${what}: ${response.status} ${response.text.slice(0, 200)}`)
  assert.ok(Number(response.headers.get('retry-after')) > 0, `${what}: Retry-After`)
  assert.equal(response.headers.get('cache-control'), 'no-store', what)
  assert.equal(pageTitle(response.text), 'Sorry, the service is unavailable – DfE Sign-in – GOV.UK'.replace('DfE Sign-in', new URL(response.url).origin === cluster.signin.url ? 'DfE Sign-in' : 'Manage school placements'), what)
}

test('with Redis down, pages that need it answer the 503 page within the command timeout, the rest still work, and the nodes recover by themselves', async (t) => {
  const email = `redis.outage.${unique()}@example.com`
  await cluster.addSigninAccount({ email })
  const { organisationId } = await cluster.addPlacementsUser({ email })
  const signedIn = new HttpSession()
  assert.equal((await signInToPlacements(signedIn, cluster.placements.url, email, { password: clusterPassword })).status, 200)
  const signingIn = new HttpSession()
  const signinPage = await openSigninPage(signingIn, cluster.placements.url)
  const pids = nodes().map((node) => node.pid)

  await cluster.redis.stop()
  const anonymous = new HttpSession()
  const checks: Array<[string, () => Promise<HttpResponse>]> = [
    // Twice each, so that both nodes behind the proxy answer.
    ['a signed-in Placements page', () => signedIn.get(`${cluster.placements.url}/organisations/${organisationId}`)],
    ['a signed-in Placements page again', () => signedIn.get(`${cluster.placements.url}/organisations/${organisationId}`)],
    ['Placements: Sign in (keeps a pending sign-in)', () => anonymous.get(`${cluster.placements.url}/sign-in`)],
    ['Placements: Sign in again', () => anonymous.get(`${cluster.placements.url}/sign-in`)],
    ['Placements: a page that stores a new session', () => anonymous.get(`${cluster.placements.url}/timed-out`)],
    ['Placements: that page again', () => anonymous.get(`${cluster.placements.url}/timed-out`)],
    ['Sign-in: the sign-in page', () => signingIn.get(signinPage.url)],
    ['Sign-in: the sign-in page again', () => signingIn.get(signinPage.url)],
    ['Sign-in: sending a password', () => submitPassword(signingIn, signinPage, email, clusterPassword)],
    ['Sign-in: the authorization endpoint (oidc-provider)', () => anonymous.get(`${cluster.signin.url}/auth?client_id=${cluster.client.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${cluster.placements.url}/auth/callback`)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s&nonce=n`)],
    ['Sign-in: the authorization endpoint again', () => anonymous.get(`${cluster.signin.url}/auth?client_id=${cluster.client.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${cluster.placements.url}/auth/callback`)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s&nonce=n`)]
  ]
  const slowest = { what: '', ms: 0 }
  for (const [what, request] of checks) {
    const { ms, response, error } = await timed(request)
    assert.equal(error, undefined, `${what}: ${error?.message} ${String(error?.cause)}`)
    assertUnavailablePage(response, what)
    if (ms > slowest.ms) Object.assign(slowest, { what, ms })
  }
  t.diagnostic(`slowest 503: ${slowest.what}, ${slowest.ms.toFixed(0)} ms`)
  assert.ok(slowest.ms < 2500, `${slowest.what} took ${slowest.ms} ms`)

  // The token endpoint is for services: the same outage, in JSON.
  const token = await fetch(`${cluster.signin.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${cluster.client.clientId}:${cluster.client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: `${cluster.placements.url}/auth/callback`, code_verifier: 'v'.repeat(43) })
  })
  assert.equal(token.status, 503)
  assert.equal((await token.json() as { error: string }).error, 'temporarily_unavailable')

  // What needs no session still works: the start pages, the health endpoints.
  for (const url of [cluster.placements.url, cluster.signin.url]) assert.equal((await fetch(url)).status, 200, `${url}/`)
  for (const node of nodes()) {
    assert.equal((await fetch(`${node.url}/healthz`)).status, 200)
    const ready = await fetch(`${node.url}/readyz`)
    assert.equal(ready.status, 503)
    assert.equal((await ready.json() as { checks: Record<string, string> }).checks.redis, 'unavailable')
  }

  await cluster.redis.start()
  await Promise.all(nodes().map((node) => node.waitUntilReady(15_000)))
  assert.deepEqual(nodes().map((node) => node.running && node.pid), pids, 'no node restarted')
  // This Redis keeps nothing across a restart: the sessions went with it, so a fresh sign-in.
  const again = new HttpSession()
  const page = await signInToPlacements(again, cluster.placements.url, email, { password: clusterPassword })
  assert.equal(page.status, 200)
  assert.equal(new URL(page.url).pathname, `/organisations/${organisationId}`)
})
