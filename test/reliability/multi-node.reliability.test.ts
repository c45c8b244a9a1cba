import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { startCluster, clusterPassword, type Cluster } from '../support/cluster.ts'
import { HttpSession } from '../support/http-client.ts'
import { signInToPlacements } from '../support/placements-flow.ts'

// Two nodes of each service on PostgreSQL and Redis, behind round-robin proxies: a person
// signs in with every request going to the next node, and each node's health endpoints
// answer as a load balancer needs them to.
let cluster: Cluster
let redis: Redis

before(async () => {
  cluster = await startCluster()
  redis = new Redis(cluster.redis.url)
})
after(async () => {
  redis?.disconnect()
  await cluster?.close()
})

const nodes = () => [...cluster.signin.nodes, ...cluster.placements.nodes]
const unique = () => randomBytes(4).toString('hex')

test('a person signs in through the proxies with each request on the next node, and stays signed in on every node', async () => {
  const email = `across.nodes.${unique()}@example.com`
  await cluster.addSigninAccount({ email })
  const { organisationId } = await cluster.addPlacementsUser({ email })
  const answeredBefore = nodes().map((node) => answered(node.url))

  const http = new HttpSession()
  const page = await signInToPlacements(http, cluster.placements.url, email, { password: clusterPassword })
  assert.equal(page.status, 200, cluster.output())
  assert.equal(new URL(page.url).pathname, `/organisations/${organisationId}`)
  for (let i = 0; i < 4; i++) assert.equal((await http.get(page.url)).status, 200, 'signed in on whichever node answers')

  const answeredNow = nodes().map((node) => answered(node.url) - answeredBefore[nodes().indexOf(node)]!)
  for (const [i, node] of nodes().entries()) assert.ok(answeredNow[i]! > 0, `${node.service} node ${node.port} took part`)
  assert.equal(cluster.signin.proxy.failures + cluster.placements.proxy.failures, 0)
})

test('/healthz and /readyz answer on every node: JSON, no-store, no cookie, every check named', async () => {
  for (const node of nodes()) {
    const health = await fetch(`${node.url}/healthz`)
    assert.equal(health.status, 200)
    assert.deepEqual(await health.json(), { status: 'ok' })
    assert.equal(health.headers.get('cache-control'), 'no-store')
    assert.equal(health.headers.get('set-cookie'), null)

    const ready = await fetch(`${node.url}/readyz`)
    assert.equal(ready.status, 200)
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'ok' } })
    assert.equal(ready.headers.get('cache-control'), 'no-store')
    assert.equal(ready.headers.get('set-cookie'), null)

    const head = await fetch(`${node.url}/readyz`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal((await fetch(`${node.url}/healthz`, { method: 'POST' })).status, 405)
  }
})

test('a load balancer probing every node 100 times, and anonymous visits to the start pages, store nothing in Redis', async (t) => {
  const keysBefore = await redis.dbsize()
  const slowest = new Map<string, number>()
  for (const node of nodes()) {
    for (let i = 0; i < 100; i++) {
      for (const path of ['/healthz', '/readyz']) {
        const started = performance.now()
        const response = await fetch(`${node.url}${path}`)
        await response.arrayBuffer()
        assert.equal(response.status, 200)
        slowest.set(path, Math.max(slowest.get(path) ?? 0, performance.now() - started))
      }
    }
  }
  for (const url of [cluster.placements.url, cluster.signin.url]) {
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${url}/`)
      await response.arrayBuffer()
      assert.equal(response.status, 200)
      assert.equal(response.headers.get('set-cookie'), null, `${url}/ sets no cookie`)
    }
  }
  assert.equal(await redis.dbsize(), keysBefore, 'no session stored')
  t.diagnostic(`slowest probe: /healthz ${slowest.get('/healthz')!.toFixed(1)} ms, /readyz ${slowest.get('/readyz')!.toFixed(1)} ms`)
  assert.ok(slowest.get('/readyz')! < 2000, 'a probe never waits longer than the check timeout')
})

function answered(url: string): number {
  return (cluster.signin.proxy.answeredBy.get(url) ?? 0) + (cluster.placements.proxy.answeredBy.get(url) ?? 0)
}
