import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, beforeEach, test } from 'node:test'
import { clusterPassword, startCluster, type Cluster } from '../support/cluster.ts'
import { request as httpRequest } from 'node:http'
import { csrfFrom, HttpSession } from '../support/http-client.ts'
import { signInToPlacements } from '../support/placements-flow.ts'
import type { ServiceNode } from '../support/service-node.ts'
import { followUntil, isPlacementsCallback, openSigninPage, submitPasswordAndCode } from '../support/sign-in-steps.ts'

// A node told to stop (SIGTERM, as an orchestrator does in a rolling deploy) finishes
// every request it has already taken, tells each client to close its connection, takes
// no new connections (the proxy sends those to the other node), and exits within the
// grace period.
const graceSeconds = 10
let cluster: Cluster

before(async () => {
  cluster = await startCluster({ signinEnv: { SHUTDOWN_GRACE_SECONDS: String(graceSeconds) }, placementsEnv: { SHUTDOWN_GRACE_SECONDS: String(graceSeconds) } })
})
after(() => cluster?.close())

const unique = () => randomBytes(4).toString('hex')

/** Each test starts with two running nodes of each service, whatever the one before it left. */
beforeEach(async () => {
  for (const group of [cluster.signin, cluster.placements]) {
    while (group.nodes.filter((node) => node.running).length < 2) await group.startNode()
  }
})
/**
 * Requests to one node, each on its own connection, with the person's cookies. SIGTERM
 * goes only once every request has been written in full to its socket: the node has
 * them all (in its kernel buffers, if not yet read), so every one of them is in flight.
 */
interface Sent {
  written: Promise<void>
  answer: Promise<{ status: number, connection: string | undefined, ms: number } | { error: string, ms: number }>
}

function send(node: ServiceNode, http: HttpSession, method: 'GET' | 'POST', path: string, form?: Record<string, string>, headers: Record<string, string> = {}): Sent {
  // Cookies are held for the host name, whatever the port: the proxy's are good here.
  const cookie = http.cookies(new URL(path, 'http://localhost')).map((c) => `${c.name}=${c.value}`).join('; ')
  const body = form ? new URLSearchParams(form).toString() : undefined
  const started = performance.now()
  let written!: () => void
  const request = httpRequest(`${node.url}${path}`, {
    method,
    agent: false,
    headers: { cookie, ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers }
  })
  const answer = new Promise<Awaited<Sent['answer']>>((resolve) => {
    request.once('response', (response) => {
      response.resume()
      response.once('end', () => resolve({ status: response.statusCode!, connection: response.headers.connection, ms: performance.now() - started }))
      response.once('error', (error) => resolve({ error: String(error), ms: performance.now() - started }))
    })
    request.once('error', (error) => resolve({ error: String(error), ms: performance.now() - started }))
  })
  request.once('finish', () => written())
  request.end(body)
  return { written: new Promise((resolve) => { written = resolve }), answer }
}

async function sigtermWithAllInFlight(node: ServiceNode, sent: Sent[]) {
  await Promise.all(sent.map((request) => request.written))
  const signalledAt = Date.now()
  node.process.kill('SIGTERM')
  const answers = await Promise.all(sent.map((request) => request.answer))
  const exit = await node.exited
  const failures = answers.map((answer, i) => ({ answer, i })).filter(({ answer }) => 'error' in answer)
  return {
    answers,
    exit,
    exitSeconds: (exit.at - signalledAt) / 1000,
    failures: failures.map(({ answer, i }) => `#${i} after ${answer.ms.toFixed(0)} ms: ${'error' in answer ? answer.error : ''}`),
    closing: answers.filter((answer) => 'status' in answer && answer.connection === 'close').length
  }
}

test('SIGTERM to a Sign-in node with 40 requests in flight (20 of them password checks): all 40 are answered, and it exits within the grace period', async (t) => {
  const node = cluster.signin.nodes.find((candidate) => candidate.running)!
  const people = await Promise.all(Array.from({ length: 20 }, async () => {
    const email = `draining.signin.${unique()}@example.com`
    await cluster.addSigninAccount({ email })
    await cluster.addPlacementsUser({ email })
    const http = new HttpSession()
    return { email, http, page: await openSigninPage(http, cluster.placements.url) }
  }))
  const sent = people.flatMap(({ email, http, page }) => {
    const path = new URL(page.url).pathname
    return [
      send(node, http, 'POST', path, { _csrf: csrfFrom(page.text), email, password: clusterPassword }),
      send(node, http, 'GET', path)
    ]
  })

  const { answers, exit, exitSeconds, failures, closing } = await sigtermWithAllInFlight(node, sent)
  t.diagnostic(`${failures.length} of ${sent.length} requests failed; ${closing} answered with Connection: close; exited ${exitSeconds.toFixed(2)} s after SIGTERM (${exit.code ?? exit.signal})`)
  assert.deepEqual(failures, [])
  // A right password is answered by a redirect on to the second factor; a page by the page.
  for (const [i, answer] of answers.entries()) assert.equal('status' in answer && answer.status, i % 2 === 0 ? 303 : 200, `request ${i}`)
  assert.ok(closing > 0, 'requests answered while draining say Connection: close')
  assert.equal(exit.code, 0, node.output())
  assert.ok(exitSeconds < graceSeconds, `exited ${exitSeconds} s after SIGTERM`)
})

test('SIGTERM to a Placements node with 40 signed-in requests in flight: all 40 are answered, and it exits within the grace period', async (t) => {
  const node = cluster.placements.nodes.find((candidate) => candidate.running)!
  const email = `draining.placements.${unique()}@example.com`
  await cluster.addSigninAccount({ email })
  const { organisationId } = await cluster.addPlacementsUser({ email })
  const http = new HttpSession()
  const page = await signInToPlacements(http, cluster.placements.url, email, { password: clusterPassword })
  assert.equal(page.status, 200)
  const token = csrfFrom(page.text)
  const sent = Array.from({ length: 40 }, (_, i) => i % 4 === 3
    ? send(node, http, 'POST', '/session/keep-alive', { _csrf: token }, { accept: 'application/json' })
    : send(node, http, 'GET', `/organisations/${organisationId}`))

  const { answers, exit, exitSeconds, failures, closing } = await sigtermWithAllInFlight(node, sent)
  t.diagnostic(`${failures.length} of ${sent.length} requests failed; ${closing} answered with Connection: close; exited ${exitSeconds.toFixed(2)} s after SIGTERM (${exit.code ?? exit.signal})`)
  assert.deepEqual(failures, [])
  for (const answer of answers) assert.equal('status' in answer && answer.status, 200)
  assert.ok(closing > 0, 'requests answered while draining say Connection: close')
  assert.equal(exit.code, 0, node.output())
  assert.ok(exitSeconds < graceSeconds, `exited ${exitSeconds} s after SIGTERM`)

  // The person carries on through the proxy, on the node that is left.
  assert.equal((await http.get(`${cluster.placements.url}/organisations/${organisationId}`)).status, 200)
})

test('a sign-in that goes through the proxy while a Sign-in node stops is never refused', async () => {
  const email = `rolling.${unique()}@example.com`
  await cluster.addSigninAccount({ email })
  await cluster.addPlacementsUser({ email })
  const http = new HttpSession()
  const page = await openSigninPage(http, cluster.placements.url)
  const stopping = cluster.signin.nodes.find((candidate) => candidate.running)!.stop('SIGTERM')
  const callback = await followUntil(http, await submitPasswordAndCode(http, page, email, clusterPassword), isPlacementsCallback(cluster.placements.url))
  const landed = await http.follow(await http.get(callback))
  assert.equal(landed.status, 200)
  assert.match(new URL(landed.url).pathname, /^\/organisations\//)
  assert.equal((await stopping).code, 0)
  assert.equal(cluster.signin.proxy.failures, 0)
})
