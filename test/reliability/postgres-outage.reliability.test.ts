import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, afterEach, before, test } from 'node:test'
import { startCluster, clusterPassword, type Cluster } from '../support/cluster.ts'
import { csrfFrom, HttpSession, type HttpResponse } from '../support/http-client.ts'
import { signInToPlacements } from '../support/placements-flow.ts'
import { followUntil, isPlacementsCallback, openSigninPage, submitPassword, submitPasswordAndCode, timed } from '../support/sign-in-steps.ts'
import { pageTitle } from '../support/signin-pages.ts'

// Each service's database on a PostgreSQL server of its own, so that one can restart
// while the other runs, as in the outage that was reported (a 5-second restart). Pages
// answer the 503 page meanwhile; whoever was signing in finishes by reloading or sending
// the same form again; the nodes recover without a restart.
let cluster: Cluster

before(async () => {
  cluster = await startCluster({ separateDatabaseServers: true })
})
after(() => cluster?.close())
// A failed test must not leave a database down for the next one.
afterEach(async () => {
  for (const server of [cluster.signin.postgres, cluster.placements.postgres]) if (!server.running) await server.start()
})

const unique = () => randomBytes(4).toString('hex')
const nodes = () => [...cluster.signin.nodes, ...cluster.placements.nodes]

function assertUnavailable(response: HttpResponse, what: string, title = 'Sorry, the service is unavailable'): void {
  assert.equal(response.status, 503, `${what}: ${response.status} ${response.text.slice(0, 300)}`)
  assert.ok(Number(response.headers.get('retry-after')) > 0, `${what}: Retry-After`)
  assert.match(pageTitle(response.text), new RegExp(`^${title} – `), what)
}

async function person(prefix: string): Promise<{ email: string, organisationId: string }> {
  const email = `${prefix}.${unique()}@example.com`
  await cluster.addSigninAccount({ email })
  const { organisationId } = await cluster.addPlacementsUser({ email })
  return { email, organisationId }
}

async function allReady(): Promise<void> {
  await Promise.all(nodes().map((node) => node.waitUntilReady(15_000)))
}

test('with Placements\' database down its pages answer the 503 page at once, readiness says why, and it recovers without a restart', async (t) => {
  const { email, organisationId } = await person('placements.db.outage')
  const http = new HttpSession()
  const page = await signInToPlacements(http, cluster.placements.url, email, { password: clusterPassword })
  assert.equal(page.status, 200)
  const pids = nodes().map((node) => node.pid)

  await cluster.placements.postgres.stop()
  for (let i = 0; i < 4; i++) {
    const { ms, response, error } = await timed(() => http.get(page.url))
    assert.equal(error, undefined, String(error))
    assertUnavailable(response!, `signed-in page, try ${i + 1}`)
    t.diagnostic(`signed-in page with the database down: 503 in ${ms.toFixed(0)} ms`)
    assert.ok(ms < 2000)
  }
  for (const node of cluster.placements.nodes) {
    assert.equal((await fetch(`${node.url}/healthz`)).status, 200, 'alive: nothing to restart')
    const ready = await fetch(`${node.url}/readyz`)
    assert.equal(ready.status, 503)
    assert.equal((await ready.json() as { checks: Record<string, string> }).checks.database, 'unavailable')
  }

  await cluster.placements.postgres.start()
  await allReady()
  assert.equal((await http.get(page.url)).status, 200, 'still signed in: the session was in Redis all along')
  assert.equal(new URL(page.url).pathname, `/organisations/${organisationId}`)
  assert.deepEqual(nodes().map((node) => node.running && node.pid), pids)
})

test('a sign-in that comes back while Placements\' database is down is finished by reloading the page', async () => {
  const { email, organisationId } = await person('callback.during.outage')
  const http = new HttpSession()
  const page = await openSigninPage(http, cluster.placements.url)
  const callback = await followUntil(http, await submitPasswordAndCode(http, page, email, clusterPassword), isPlacementsCallback(cluster.placements.url))

  await cluster.placements.postgres.stop()
  // The code is exchanged (Sign-in is up), then recording the sign-in fails.
  assertUnavailable(await http.get(callback), 'the callback')
  await cluster.placements.postgres.start()
  await allReady()

  const reloaded = await http.get(callback)
  assert.equal(reloaded.status, 303, reloaded.text.slice(0, 300))
  const landed = await http.follow(reloaded)
  assert.equal(landed.status, 200)
  assert.equal(new URL(landed.url).pathname, `/organisations/${organisationId}`)
  // Once it has worked, the same callback is refused: the pending sign-in is used up.
  assert.equal((await new HttpSession().get(callback)).status, 400)
  assert.equal((await http.get(callback)).status, 400)
})

test('a sign-in that comes back while Sign-in\'s database is down is finished by reloading: the code was not spent', async () => {
  const { email, organisationId } = await person('token.during.outage')
  const http = new HttpSession()
  const page = await openSigninPage(http, cluster.placements.url)
  const callback = await followUntil(http, await submitPasswordAndCode(http, page, email, clusterPassword), isPlacementsCallback(cluster.placements.url))

  await cluster.signin.postgres.stop()
  // Placements cannot exchange the code: Sign-in's token endpoint answers 503.
  assertUnavailable(await http.get(callback), 'the callback', 'Sorry, you cannot sign in at the moment')
  await cluster.signin.postgres.start()
  await allReady()

  const landed = await http.follow(await http.get(callback))
  assert.equal(landed.status, 200, landed.text.slice(0, 300))
  assert.equal(new URL(landed.url).pathname, `/organisations/${organisationId}`)
})

test('a password sent while Sign-in\'s database is down gets the 503 page, the form is still shown, and sending the same form again once it is back signs the person in', async () => {
  const { email, organisationId } = await person('password.during.outage')
  const http = new HttpSession()
  const page = await openSigninPage(http, cluster.placements.url)

  await cluster.signin.postgres.stop()
  assertUnavailable(await submitPassword(http, page, email, clusterPassword), 'sending the password')
  // Showing the form again needs only the journey, kept in the session (ADR 23), not the database.
  const again = await http.get(page.url)
  assert.equal(again.status, 200, `the sign-in page: ${again.status}`)
  assert.match(again.text, /name="password"/)
  await cluster.signin.postgres.start()
  await allReady()

  // The same form, token and all, as a browser's "resend" would send it.
  const landed = await http.follow(await submitPasswordAndCode(http, page, email, clusterPassword))
  assert.equal(landed.status, 200, landed.text.slice(0, 300))
  assert.equal(new URL(landed.url).pathname, `/organisations/${organisationId}`)
})

test('someone who has just created an account reaches Placements even if Sign-in\'s database goes down on the way back', async () => {
  const email = `new.account.${unique()}@example.com`
  const { organisationId } = await cluster.addPlacementsUser({ email })
  const http = new HttpSession()
  const signinPage = await openSigninPage(http, cluster.placements.url)
  const base = signinPage.url
  const send = async (step: string, fields: Record<string, string>) => {
    const form = await http.get(`${base}/${step}`)
    assert.equal(form.status, 200, `${step}: ${form.text.slice(0, 200)}`)
    return http.post(`${base}/${step}`, { _csrf: csrfFrom(form.text), ...fields })
  }
  assert.equal((await send('create-account', { givenName: 'Nadia', familyName: 'Okafor', email })).status, 303)
  assert.equal((await send('confirm-email', { code: await cluster.latestSigninCode(email) })).status, 303)
  assert.equal((await send('create-password', { password: clusterPassword, confirmPassword: clusterPassword })).status, 303)
  const continued = await send('registration-complete', {})
  assert.equal(continued.status, 303)
  // On the way back: Sign-in resumes the authorization request, then sends the person on.
  const resume = new URL(continued.headers.get('location')!, continued.url)
  assert.match(resume.pathname, /^\/auth\//)

  await cluster.signin.postgres.stop()
  assertUnavailable(await http.get(resume), 'resuming the authorization request')
  await cluster.signin.postgres.start()
  await allReady()

  const landed = await http.follow(await http.get(resume))
  assert.equal(landed.status, 200, landed.text.slice(0, 300))
  assert.equal(new URL(landed.url).pathname, `/organisations/${organisationId}`)
})
