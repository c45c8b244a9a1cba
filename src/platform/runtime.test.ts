import assert from 'node:assert/strict'
import http from 'node:http'
import { after, test } from 'node:test'
import express from 'express'
import { pageTitle } from '../../test/support/signin-pages.ts'
import { Readiness, type ReadinessCheck } from './health.ts'
import { listen, startingApp, type WebServer } from './runtime.ts'
import { serveAssets, useViews } from './views.ts'

// A node's HTTP life on a real server and real sockets: 503 while starting, the health
// endpoints throughout, and draining on the way out.
const servers: WebServer[] = []
after(async () => {
  for (const web of servers) await web.drain(0)
})

async function start(): Promise<WebServer> {
  const web = await listen(0, '127.0.0.1', 'http://localhost', startingApp((app) => { useViews(app, import.meta.dirname, { productName: 'Test service', productUrl: '/' }); serveAssets(app, import.meta.dirname) }))
  servers.push(web)
  return web
}

const ok = (name: string): ReadinessCheck => ({ name, run: async () => 'ok' })

/** A request on its own connection; resolves when it has been written, then with the answer or the error. */
function request(web: WebServer, path: string, agent: http.Agent | false = false) {
  let written!: () => void
  const sent = http.request({ host: '127.0.0.1', port: web.port, path, agent })
  const answer = new Promise<{ status: number, connection: string | undefined, body: string } | { error: string }>((resolve) => {
    sent.once('response', (response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => { body += chunk.toString() })
      response.once('end', () => resolve({ status: response.statusCode!, connection: response.headers.connection, body }))
      response.once('error', (error) => resolve({ error: String(error) }))
    })
    sent.once('error', (error) => resolve({ error: String(error) }))
  })
  sent.once('finish', () => written())
  sent.end()
  return { written: new Promise<void>((resolve) => { written = resolve }), answer }
}

test('until it is ready a node answers every page with the service unavailable page (503, Retry-After), and /healthz and /readyz answer', async () => {
  const web = await start()
  const page = await fetch(`http://127.0.0.1:${web.port}/any/page`)
  assert.equal(page.status, 503)
  assert.equal(page.headers.get('retry-after'), '5')
  assert.equal(page.headers.get('cache-control'), 'no-store')
  assert.equal(pageTitle(await page.text()), 'Sorry, the service is unavailable – Test service – GOV.UK')
  const stylesheet = await fetch(`http://127.0.0.1:${web.port}/assets/govuk-frontend.min.css`)
  assert.equal(stylesheet.status, 200, 'the page is styled even while starting')

  const health = await fetch(`http://127.0.0.1:${web.port}/healthz`)
  assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }])
  const readiness = await fetch(`http://127.0.0.1:${web.port}/readyz`)
  assert.deepEqual([readiness.status, await readiness.json()], [503, { status: 'starting' }])

  const app = express().get('/any/page', (_req, res) => { res.send('served') })
  web.serve(app, new Readiness([ok('database'), ok('redis')]))
  assert.equal(await (await fetch(`http://127.0.0.1:${web.port}/any/page`)).text(), 'served')
  const ready = await fetch(`http://127.0.0.1:${web.port}/readyz?from=balancer`)
  assert.deepEqual([ready.status, await ready.json()], [200, { status: 'ready', checks: { database: 'ok', redis: 'ok' } }])
  assert.equal(ready.headers.get('cache-control'), 'no-store')
})

test('/readyz is 503 when a check fails or takes longer than the timeout, and probes that arrive together share one run', async () => {
  const web = await start()
  let runs = 0
  let redisUp = false
  const slow: ReadinessCheck = { name: 'redis', run: () => { runs++; return redisUp ? Promise.resolve('ok') : new Promise(() => {}) } }
  const failing: ReadinessCheck = { name: 'database', run: () => Promise.reject(new Error('connect ECONNREFUSED')) }
  web.serve(express(), new Readiness([failing, slow], { timeoutMs: 200 }))
  const started = performance.now()
  const probes = await Promise.all(Array.from({ length: 10 }, () => fetch(`http://127.0.0.1:${web.port}/readyz`)))
  const ms = performance.now() - started
  for (const probe of probes) {
    assert.equal(probe.status, 503)
    assert.deepEqual(await probe.json(), { status: 'not ready', checks: { database: 'unavailable', redis: 'timed out' } })
  }
  assert.ok(ms < 1500, `answered in ${ms} ms, not left waiting`)
  assert.equal(runs, 1, 'ten probes at once, one check')
  redisUp = true
  assert.equal((await fetch(`http://127.0.0.1:${web.port}/readyz`)).status, 503, 'still not ready while the database fails')
})

test('draining: requests in flight finish (told Connection: close), idle keep-alive connections close, new connections are refused', async () => {
  const web = await start()
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  let started = 0
  const app = express()
  app.get('/slow', async (_req, res) => {
    started++
    await released
    res.send('finished')
  })
  app.get('/quick', (_req, res) => { res.send('quick') })
  web.serve(app, new Readiness([ok('database')]))

  // A keep-alive connection left idle after a request, as browsers and proxies keep them.
  const agent = new http.Agent({ keepAlive: true })
  const first = await request(web, '/quick', agent).answer
  assert.ok('status' in first && first.status === 200)
  let idleClosed = false
  const idleSocket = Object.values(agent.freeSockets).flat()[0]!
  idleSocket.once('close', () => { idleClosed = true })

  const inFlight = Array.from({ length: 5 }, () => request(web, '/slow'))
  await Promise.all(inFlight.map((sent) => sent.written))
  while (started < 5) await new Promise((resolve) => setImmediate(resolve))

  const drained = web.drain(10_000)
  while (!idleClosed) await new Promise((resolve) => setTimeout(resolve, 5))
  const refused = await request(web, '/quick').answer
  assert.ok('error' in refused && /ECONNREFUSED/.test(refused.error), 'no new connection is taken')
  assert.equal(web.state, 'draining')

  release()
  for (const sent of inFlight) {
    const answer = await sent.answer
    assert.deepEqual(answer, { status: 200, connection: 'close', body: 'finished' })
  }
  assert.deepEqual(await drained, { cut: 0 })
  agent.destroy()
})

test('draining: a request still running when the grace period ends is cut, and draining ends then', async () => {
  const web = await start()
  const app = express().get('/never', () => {})
  web.serve(app, new Readiness([ok('database')]))
  const stuck = request(web, '/never')
  await stuck.written
  const started = performance.now()
  assert.deepEqual(await web.drain(300), { cut: 1 })
  const ms = performance.now() - started
  assert.ok(ms >= 290 && ms < 2000, `ended after ${ms} ms`)
  const answer = await stuck.answer
  assert.ok('error' in answer, 'the stuck request was cut')
})
