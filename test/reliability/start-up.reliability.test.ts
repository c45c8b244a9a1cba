import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { freePort, waitFor } from '../support/backing-servers.ts'
import { startCluster, type Cluster } from '../support/cluster.ts'
import { runCommand, spawnServiceNode, type ServiceNode } from '../support/service-node.ts'

// A node answers from the moment its port is bound: 503 with Retry-After until it is
// ready (keys, Redis, migrations), never a request left waiting. The requests here go
// straight to the new node, as a load balancer's would if it sent traffic too early.
let cluster: Cluster

before(async () => {
  cluster = await startCluster({ signinNodes: 1, placementsNodes: 1 })
})
after(() => cluster?.close())

type Outcome = 'refused' | 'unavailable' | 'answered' | 'hung' | 'broken'

/**
 * Sends requests to `url` one after another, four at a time, until `stop` holds: each
 * one is refused (nothing bound yet), 503 with Retry-After, answered, broken (a reset or
 * an empty answer), or hung (no answer in 5 seconds).
 */
async function probeUntil(url: string, paths: string[], stop: () => boolean): Promise<Record<Outcome, number>> {
  const counts: Record<Outcome, number> = { refused: 0, unavailable: 0, answered: 0, hung: 0, broken: 0 }
  const deadline = Date.now() + 60_000
  async function worker(offset: number) {
    for (let i = offset; !stop() && Date.now() < deadline; i++) {
      const outcome = await probe(`${url}${paths[i % paths.length]}`)
      counts[outcome]++
      if (outcome === 'refused') await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  await Promise.all([0, 1, 2, 3].map(worker))
  return counts
}

async function probe(url: string): Promise<Outcome> {
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5000) })
    await response.arrayBuffer()
    if (response.status === 503) return response.headers.get('retry-after') ? 'unavailable' : 'broken'
    return 'answered'
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause
    if ((error as Error).name === 'TimeoutError') return 'hung'
    return cause?.code === 'ECONNREFUSED' ? 'refused' : 'broken'
  }
}

function newNode(service: 'signin' | 'placements', env: NodeJS.ProcessEnv, port: number): ServiceNode {
  const group = service === 'signin' ? cluster.signin : cluster.placements
  return spawnServiceNode({ service, port, env: { ...group.env, ...env } })
}

async function readyz(node: ServiceNode): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(5000) })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

test('a Sign-in node starting on a fresh database answers every request from the moment it binds: 503 with Retry-After until ready, none left hanging', async (t) => {
  // A fresh database: the first start makes the signing key and cookie keys while bound.
  const databaseUrl = await cluster.signin.postgres.createDatabase('signin_fresh_start')
  const env = { SIGNIN_DATABASE_URL: databaseUrl }
  const migrated = await runCommand('src/cli/migrate.ts', [], { ...cluster.signin.env, ...env, START: 'signin' })
  assert.equal(migrated.code, 0, migrated.output)
  const port = await freePort()
  let ready = false
  const node = newNode('signin', env, port)
  try {
    const readiness = node.waitUntilReady().then(() => { ready = true })
    const counts = await probeUntil(node.url, ['/', '/.well-known/openid-configuration', '/interaction/not-a-real-interaction-id'], () => ready || !node.running)
    await readiness
    t.diagnostic(`while starting: ${JSON.stringify(counts)}`)
    assert.equal(counts.hung, 0, 'no request waits for ever')
    assert.equal(counts.broken, 0, 'no request is reset or answered without Retry-After')
    assert.ok(counts.answered > 0, 'then it serves')
  } finally {
    await node.stop()
  }
})

test('a Placements node started while Redis is down answers 503 at once, and is ready as soon as Redis is back', async (t) => {
  await cluster.redis.stop()
  const node = newNode('placements', {}, await freePort())
  try {
    await waitFor('the node to bind', async () => (await fetch(`${node.url}/healthz`)).status === 200)
    const started = performance.now()
    const page = await fetch(`${node.url}/sign-in`, { redirect: 'manual' })
    const ms = performance.now() - started
    t.diagnostic(`GET /sign-in with Redis down: ${page.status} in ${ms.toFixed(0)} ms`)
    assert.equal(page.status, 503)
    assert.ok(page.headers.get('retry-after'))
    assert.match(await page.text(), /Sorry, the service is unavailable/)
    assert.ok(ms < 2500, 'answered within the Redis command timeout')
    const notReady = await readyz(node)
    assert.equal(notReady.status, 503)

    await cluster.redis.start()
    await node.waitUntilReady(15_000)
    assert.deepEqual((await readyz(node)).body, { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'ok' } })
    assert.equal((await fetch(`${node.url}/sign-in`, { redirect: 'manual' })).status, 303)
  } finally {
    if (!cluster.redis.running) await cluster.redis.start()
    await node.stop()
  }
})

test('a production node started before its database is migrated answers 503, says it is waiting, and serves once npm run migrate has run: no restart', async () => {
  const databaseUrl = await cluster.signin.postgres.createDatabase('signin_not_yet_migrated')
  const env = { SIGNIN_DATABASE_URL: databaseUrl }
  const node = newNode('signin', env, await freePort())
  try {
    await waitFor('the node to bind', async () => (await fetch(`${node.url}/healthz`)).status === 200)
    assert.deepEqual(await readyz(node), { status: 503, body: { status: 'starting' } })
    const page = await fetch(`${node.url}/`)
    assert.equal(page.status, 503)
    assert.ok(page.headers.get('retry-after'))
    await waitFor('the node to say why it waits', async () => /npm run migrate/.test(node.output()))

    const migrated = await runCommand('src/cli/migrate.ts', [], { ...cluster.signin.env, ...env, START: 'signin' })
    assert.equal(migrated.code, 0, migrated.output)
    await node.waitUntilReady(15_000)
    assert.equal((await fetch(`${node.url}/`)).status, 200)
    assert.ok(node.running)
  } finally {
    await node.stop()
  }
})

test('npm start says what it is doing while it starts', async () => {
  const node = newNode('placements', {}, await freePort())
  try {
    await node.waitUntilReady()
    const output = node.output()
    for (const step of [/opening the database \(PostgreSQL at 127\.0\.0\.1:\d+\/placements\)/, /applying database migrations/, /connecting to Redis/, /Manage school placements is running at/]) {
      assert.match(output, step)
    }
    assert.doesNotMatch(output, /postgres:\/\//, 'no connection string (it may hold a password)')
  } finally {
    await node.stop()
  }
})
