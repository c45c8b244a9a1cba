import assert from 'node:assert/strict'
import { createPublicKey, verify } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import type * as oidc from 'openid-client'
import { freshDatabase, redisSettings, type TestDatabase } from '../../../test/support/databases.ts'
import { HttpSession } from '../../../test/support/http-client.ts'
import { discover, finishFlow, followToCallbackOrPage, submit } from '../../../test/support/oidc-flow.ts'
import { addAccount, startJourney } from '../../../test/support/signin-pages.ts'
import { FakeClock } from '../../platform/clock.ts'
import { readSigninConfig } from '../config.ts'
import type { SigninDatabase } from '../database/schema.ts'
import { startSignin, type RunningSignin, type StartOptions } from '../server.ts'
import { registerClient } from './clients.ts'
import { publishBeforeSigningSeconds, rotateSigningKey } from './keys.ts'
import { passSecondFactor } from '../../../test/support/second-factor.ts'

// A key rotated on one node (npm run keys -- rotate) reaches the others without a
// restart. Two Sign-in nodes share one database (each its own pool on the server) and
// one Redis prefix, as behind a load balancer; a relying party signs in through them.
const redirectUri = 'http://localhost:4999/callback'
const client = { clientId: 'rotation-test-service', secret: 'rotation-test-secret-0123456789abcdef' }
const person = { email: 'rotation.person@example.com', password: 'a-long-enough-password-for-rotation' }

/**
 * Each test has a cluster of its own (database, Redis prefix, clock and two nodes): the
 * keys a test rotates would otherwise be the starting keys of the next.
 */
interface Cluster { database: TestDatabase<SigninDatabase>, clock: FakeClock, nodes: RunningSignin[], startNode(options?: StartOptions): Promise<RunningSignin> }

async function startCluster(t: TestContext): Promise<Cluster> {
  const database = await freshDatabase<SigninDatabase>()
  const clock = new FakeClock(new Date())
  const nodes: RunningSignin[] = []
  const settings = { ...readSigninConfig({ NODE_ENV: 'test', SIGNIN_PORT: '0' }), ...redisSettings() }
  t.after(async () => {
    await Promise.all(nodes.map((node) => node.close()))
    await database.drop()
  })
  const startNode = async (options: StartOptions = {}) => {
    const node = await startSignin(settings, { db: nodes.length === 0 ? database.db : await database.connectAnother(), clock, ...options })
    nodes.push(node)
    return node
  }
  await startNode()
  await startNode()
  await registerClient(database.db, { ...client, name: 'Rotation test service', redirectUris: [redirectUri], postLogoutRedirectUris: [] }, clock.now())
  await addAccount(database.db, person)
  return { database, clock, nodes, startNode }
}

type Jwks = { keys: Array<Record<string, unknown> & { kid: string }> }
const published = async (node: RunningSignin) => (await (await fetch(`${node.url}/jwks`)).json()) as Jwks
const kids = async (node: RunningSignin) => (await published(node)).keys.map((key) => key.kid).sort()

/** Signs in through one node, as a service would, and returns the ID token. */
async function signInThrough(node: RunningSignin, config?: oidc.Configuration, beforeSubmitting?: () => Promise<void>): Promise<string> {
  const http = new HttpSession()
  const { flow, page } = await startJourney(http, config ?? await discover(node.url, client.clientId, client.secret), redirectUri)
  await beforeSubmitting?.()
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, await submit(http, page, page.url, person)), redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?code=`), `expected the service's callback, got ${callback.status} at ${callback.url}`)
  return (await finishFlow(flow, callback.url)).id_token!
}

/** The key that signed the token, checked against the keys a node publishes. */
function signedWith(idToken: string, jwks: Jwks): string {
  const [header, payload, signature] = idToken.split('.') as [string, string, string]
  const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string }
  const jwk = jwks.keys.find((key) => key.kid === kid)
  assert.ok(jwk, `key ${kid} is not published`)
  const key = createPublicKey({ key: jwk as never, format: 'jwk' })
  assert.ok(verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url')), 'the signature verifies')
  return kid
}

test('a key rotated on one node is published by every node after a refresh, and signs only once published long enough', async (t) => {
  const { database, clock, nodes } = await startCluster(t)
  const [a, b] = nodes as [RunningSignin, RunningSignin]
  const [original] = await kids(a)
  assert.deepEqual(await kids(b), [original])

  clock.advanceSeconds(60)
  const rotated = await rotateSigningKey(database.db, clock.now())
  assert.equal(await b.refreshKeys(), true)
  assert.equal(await a.refreshKeys(), true)
  for (const node of nodes) assert.deepEqual(await kids(node), [original, rotated].sort(), 'published by every node')
  assert.equal(signedWith(await signInThrough(b), await published(a)), original, 'not yet signing with the new key')

  clock.advanceSeconds(publishBeforeSigningSeconds)
  assert.equal(await a.refreshKeys(), true, 'the new key now goes first')
  assert.equal(await b.refreshKeys(), true)
  assert.equal(await b.refreshKeys(), false, 'nothing changed since')
  assert.equal(signedWith(await signInThrough(b), await published(a)), rotated)
  assert.equal(signedWith(await signInThrough(a), await published(b)), rotated)
})

test('a sign-in under way when the provider is rebuilt finishes on the new one', async (t) => {
  const { database, clock, nodes } = await startCluster(t)
  const [a] = nodes as [RunningSignin]
  const config = await discover(a.url, client.clientId, client.secret)
  clock.advanceSeconds(60)
  const rotated = await rotateSigningKey(database.db, clock.now())
  const idToken = await signInThrough(a, config, async () => {
    clock.advanceSeconds(publishBeforeSigningSeconds)
    assert.equal(await a.refreshKeys(), true)
  })
  assert.equal(signedWith(idToken, await published(a)), rotated)
})

test('a node re-reads the keys by itself every keyRefreshSeconds', async (t) => {
  const { database, clock, startNode } = await startCluster(t)
  const c = await startNode({ keyRefreshSeconds: 0.05 })
  const rotated = await rotateSigningKey(database.db, clock.now())
  const deadline = Date.now() + 5000
  while (!(await kids(c)).includes(rotated)) {
    assert.ok(Date.now() < deadline, 'the rotated key was not published within 5 seconds')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
})
