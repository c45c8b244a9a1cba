import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, test } from 'node:test'
import express from 'express'
import { sql, type Kysely } from 'kysely'
import { demoPassword } from '../demo/personas.ts'
import { csrfFrom, HttpSession } from '../../test/support/http-client.ts'
import { givenOrganisationWithMember } from '../../test/support/builders.ts'
import { startTestServices, type TestServices } from '../../test/support/placements.ts'
import { isPlacementsCallback, followUntil, openSigninPage, submitPasswordAndCode } from '../../test/support/sign-in-steps.ts'
import { systemClock } from './clock.ts'
import { createLogger } from './logger.ts'
import { queueEmail, type OutboxTable } from './mail/outbox.ts'
import { ServiceMetrics } from './metrics.ts'
import { observeRequests } from './request-log.ts'
import { errorPages } from './security.ts'

/**
 * Request logs and metrics (docs/operations.md, "Logs" and "Metrics"), on both services as
 * they run: each service's real logger writes to a sink the test reads, and each serves
 * its metrics on a port of its own.
 */
interface LogLine { level: number, msg: string, requestId?: string, method?: string, route?: string, status?: number, durationMs?: number, [key: string]: unknown }

function logSink(): { lines: LogLine[], stream: Writable } {
  const lines: LogLine[] = []
  const stream = new Writable({ write(chunk, _encoding, done) { lines.push(JSON.parse(String(chunk)) as LogLine); done() } })
  return { lines, stream }
}

const signinLogs = logSink()
const placementsLogs = logSink()
let services: TestServices

before(async () => {
  services = await startTestServices({
    signinLog: createLogger('signin', 'info', signinLogs.stream),
    placementsLog: createLogger('placements', 'info', placementsLogs.stream),
    signinEnv: { SIGNIN_METRICS_PORT: '0' },
    placementsEnv: { PLACEMENTS_METRICS_PORT: '0' }
  })
})
after(() => services.close())

const requestLines = (lines: LogLine[]) => lines.filter((line) => line.msg === 'request completed')

async function scrape(url: string | undefined): Promise<string> {
  assert.ok(url, 'the metrics are served')
  const response = await fetch(url)
  assert.equal(response.status, 200)
  return response.text()
}

/** The value of one series in Prometheus' text format (0 when absent). */
function valueOf(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line ? Number(line.slice(series.length + 1)) : 0
}

test('a sign-in is logged request by request, with no password, code, email address or cookie in any line', async () => {
  // Someone of its own, and only the lines logged from here on: the other tests in this
  // file send requests with ids of their own choosing ("lb-1234abcd.5678", "proxy-req-42").
  const { member } = await givenOrganisationWithMember(services)
  const email = member.email
  const signinFrom = signinLogs.lines.length
  const placementsFrom = placementsLogs.lines.length
  const http = new HttpSession()
  const signinPage = await openSigninPage(http, services.placements.url)
  const answer = await submitPasswordAndCode(http, signinPage, email, demoPassword)
  const code = await services.signin.latestCode(email)
  const callback = await followUntil(http, answer, isPlacementsCallback(services.placements.url))
  const authorizationCode = callback.searchParams.get('code')
  assert.ok(authorizationCode)
  const landed = await http.follow(await http.get(callback))
  assert.equal(landed.status, 200)

  const secrets = [demoPassword, code, email, encodeURIComponent(email), authorizationCode, callback.searchParams.get('state')!,
    ...http.cookies().map((cookie) => cookie.value)]
  const signinLines = signinLogs.lines.slice(signinFrom)
  const placementsLines = placementsLogs.lines.slice(placementsFrom)
  const text = JSON.stringify([...signinLines, ...placementsLines])
  for (const secret of secrets) assert.ok(!text.includes(secret), `"${secret}" is in the logs: ${text.split('},{').filter((l) => l.includes(secret)).join('\n')}`)
  assert.ok(!text.includes('?'), 'no query string is logged')

  // Each request once, with its id, method, route, status and duration.
  const signin = requestLines(signinLines)
  const placements = requestLines(placementsLines)
  for (const line of [...signin, ...placements]) {
    assert.match(line.requestId ?? '', /^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/)
    assert.equal(typeof line.method, 'string')
    assert.equal(typeof line.route, 'string')
    assert.equal(typeof line.status, 'number')
    assert.equal(typeof line.durationMs, 'number')
    assert.deepEqual(Object.keys(line).filter((key) => !['level', 'time', 'pid', 'hostname', 'name'].includes(key)).sort(),
      ['durationMs', 'method', 'msg', 'requestId', 'route', 'status'])
  }
  assert.equal(new Set(signin.map((line) => line.requestId)).size, signin.length, 'one line per request')
  const routes = (lines: LogLine[]) => lines.map((line) => `${line.method} ${line.route} ${line.status}`)
  // Express' route patterns, with the parameters of the mount (`:uid`) put back.
  assert.ok(routes(signin).includes('POST /interaction/:uid 303'), routes(signin).join('\n'))
  // The provider's own endpoints (Koa, inside Express) are logged too: by path, never with the query.
  assert.ok(routes(signin).includes('GET /auth 303'), routes(signin).join('\n'))
  // What follows /auth/ when the provider resumes is the value of a cookie: never logged.
  assert.ok(routes(signin).includes('GET /auth/* 303'), routes(signin).join('\n'))
  assert.ok(routes(signin).includes('POST /interaction/:uid/email-code 303'), routes(signin).join('\n'))
  assert.ok(routes(signin).some((route) => route.startsWith('POST /token 200')), routes(signin).join('\n'))
  assert.ok(routes(placements).includes('GET /auth/callback 303'), routes(placements).join('\n'))

  // …and counted in Sign-in's metrics, from the audit events the journey recorded.
  const metrics = await scrape(services.signin.metricsUrl)
  assert.ok(valueOf(metrics, 'signin_sign_ins_total') >= 1)
  assert.ok(valueOf(metrics, 'signin_second_factor_total{method="email-code",outcome="success"}') >= 1)
  assert.ok(valueOf(metrics, 'http_requests_total{method="GET",route="/auth",status="303"}') >= 1)
})

test('the request id: a safe one from the proxy is kept, anything else replaced; it comes back as X-Request-Id', async () => {
  for (const [service, url] of [['signin', services.signin.url], ['placements', services.placements.url]] as const) {
    const given = await fetch(`${url}/help`, { headers: { 'X-Request-Id': 'lb-1234abcd.5678' } })
    assert.equal(given.headers.get('x-request-id'), 'lb-1234abcd.5678', service)
    for (const unsafe of ['<script>', 'a'.repeat(65), 'two words', 'anne.wilson@example.com\n{"forged":1}']) {
      const replaced = await fetch(`${url}/help`, { headers: { 'X-Request-Id': encodeURIComponent(unsafe) === unsafe ? unsafe : unsafe.replace(/\n/g, ' ') } })
      assert.match(replaced.headers.get('x-request-id') ?? '', /^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/, `${service}: ${unsafe}`)
    }
    const logs = service === 'signin' ? signinLogs : placementsLogs
    const line = requestLines(logs.lines).find((l) => l.requestId === 'lb-1234abcd.5678')
    assert.equal(line?.route, '/help', service)
  }
})

for (const service of ['signin', 'placements'] as const) {
  test(`${service}: metrics in Prometheus' text format on their own port, never on the public one`, async () => {
    const running = services[service]
    const url = running.metricsUrl
    assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'bound to 127.0.0.1 by default')
    const before = await scrape(url)
    const series = 'http_requests_total{method="GET",route="/help",status="200"}'
    const help = await fetch(`${running.url}/help?from=metrics-test`)
    assert.equal(help.status, 200)
    const response = await fetch(url!)
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
    const text = await response.text()
    assert.equal(valueOf(text, series), valueOf(before, series) + 1, 'the request made is counted')
    assert.match(text, /^http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/help",status="200"\} \d+$/m)
    assert.match(text, /^process_cpu_user_seconds_total \d/m, 'Node process metrics')
    assert.match(text, /^store_errors_total\{where="request"\} \d+$/m, 'store errors, shown from the start')

    // An email queued is an email waiting; its age follows the service's clock.
    const depth = valueOf(text, 'outbox_unsent_messages')
    await queueEmail(running.context.db as unknown as Kysely<OutboxTable>, { to: `metrics-${service}@example.com`, subject: 'Waiting', body: 'Not sent' }, new Date(running.context.clock.now().getTime() - 90_000))
    const queued = await scrape(url)
    assert.equal(valueOf(queued, 'outbox_unsent_messages'), depth + 1)
    assert.ok(valueOf(queued, 'outbox_oldest_unsent_age_seconds') >= 90)

    // The public port has no metrics: the usual 404 page.
    const publicMetrics = await fetch(`${running.url}/metrics`)
    assert.equal(publicMetrics.status, 404)
    assert.doesNotMatch(await publicMetrics.text(), /http_requests_total/)
    // And the metrics port answers nothing else.
    assert.equal((await fetch(new URL('/help', url))).status, 404)
  })
}

test('a 500 page shows the request id as its reference, and the error is logged with it', async () => {
  // A fault, as in service-pages.test.ts: the database refuses the feedback.
  const { placements } = services
  await placements.context.db.schema.alterTable('feedback').addCheckConstraint('test_fault_observability', sql`false`).execute()
  try {
    await placements.context.store.delete('feedback:127.0.0.1')
    const http = new HttpSession()
    const form = await http.get(`${placements.url}/feedback`)
    const page = await http.post(`${placements.url}/feedback`, { _csrf: csrfFrom(form.text), tryingToDo: 'Break it', howItWent: 'Broken' }, { 'X-Request-Id': 'proxy-req-42' })
    assert.equal(page.status, 500)
    assert.equal(page.headers.get('x-request-id'), 'proxy-req-42')
    assert.match(page.text, /id="error-reference">proxy-req-42</)
    const error = placementsLogs.lines.find((line) => line.msg === 'request failed' && line.requestId === 'proxy-req-42')
    assert.ok(error?.err, 'the error is logged with the request id')
    assert.equal(error.reference, 'proxy-req-42')
    const request = requestLines(placementsLogs.lines).find((line) => line.requestId === 'proxy-req-42')
    assert.equal(request?.status, 500)
    assert.equal(request?.route, '/feedback')
    assert.equal(request?.level, 50, 'a 5xx is logged at error level')
  } finally {
    await placements.context.db.schema.alterTable('feedback').dropConstraint('test_fault_observability').execute()
  }
})

test('an outage caught by the error pages is a store error, counted under the pattern of the route that failed', async (t) => {
  const metrics = new ServiceMetrics({ db: services.placements.context.db as unknown as Kysely<never>, clock: systemClock, log: createLogger('test', 'silent') })
  const app = express()
  const parts = express.Router({ mergeParams: true })
  parts.get('/parts/:partId', () => { throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }) })
  app.use('/things/:thingId', parts)
  app.use(errorPages({ log: () => {} }))
  const observe = observeRequests({ log: createLogger('test', 'silent'), metrics })
  const server = http.createServer((req, res) => observe(req, res, () => app(req, res)))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/things/t-1/parts/p-2?secret=1`)
  assert.equal(response.status, 503)
  const text = await metrics.registry.metrics()
  assert.equal(valueOf(text, 'store_errors_total{where="request"}'), 1)
  // Express has unwound to the app by the time the error page is sent: the pattern was kept.
  assert.equal(valueOf(text, 'http_requests_total{method="GET",route="/things/:thingId/parts/:partId",status="503"}'), 1)
})
