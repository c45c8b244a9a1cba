import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Kysely } from 'kysely'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'
import type { OutboxTable } from './mail/outbox.ts'
import { currentRequest } from './request-scope.ts'

/**
 * Each node's Prometheus metrics (docs/operations.md, "Metrics"; ADR 15): its own registry,
 * served on a port of its own that is never the public one. Counters are per node: with
 * several nodes, Prometheus scrapes each and adds them up.
 */
export class ServiceMetrics {
  readonly registry = new Registry()
  readonly httpRequests = new Counter({
    name: 'http_requests_total', help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [this.registry]
  })
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds', help: 'Time from a request arriving to its response being sent, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [this.registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
  })
  readonly storeErrors = new Counter({
    name: 'store_errors_total', help: 'PostgreSQL or Redis could not be reached (an outage answered with 503), by where it was caught',
    labelNames: ['where'] as const, registers: [this.registry]
  })

  constructor(options: { db: Kysely<never>, clock: Clock, log: Logger, processMetrics?: boolean }) {
    const db = options.db as unknown as Kysely<OutboxTable>
    // Both read at scrape time, by one query on the outbox's "unsent" index.
    let pending: Promise<{ depth: number, ageSeconds: number }> | undefined
    const readOutbox = () => pending ??= (async () => {
      try {
        const row = await db.selectFrom('outbox')
          .select((eb) => [eb.fn.countAll().as('depth'), eb.fn.min('created_at').as('oldest')])
          .where('sent_at', 'is', null).executeTakeFirstOrThrow()
        const oldest = row.oldest ? new Date(row.oldest as Date | string).getTime() : undefined
        return { depth: Number(row.depth), ageSeconds: oldest === undefined ? 0 : Math.max(0, (options.clock.now().getTime() - oldest) / 1000) }
      } finally {
        setImmediate(() => { pending = undefined })
      }
    })()
    const storeErrors = this.storeErrors
    const outboxGauge = (name: string, help: string, pick: (outbox: { depth: number, ageSeconds: number }) => number) => new Gauge({
      name, help, registers: [this.registry],
      async collect() {
        try {
          this.set(pick(await readOutbox()))
        } catch (error) {
          // A scrape during an outage still answers (with the last values); the failure is counted.
          storeErrors.inc({ where: 'metrics' })
          options.log.warn({ err: error }, 'outbox metrics not read')
        }
      }
    })
    outboxGauge('outbox_unsent_messages', 'Emails in the outbox not sent yet (queued, or waiting to be retried)', (o) => o.depth)
    outboxGauge('outbox_oldest_unsent_age_seconds', 'Age of the oldest email not sent yet; 0 when none is waiting', (o) => o.ageSeconds)
    // Present (at 0) from the first scrape, so rates and alerts work before anything happens.
    for (const where of storeErrorPlaces) this.storeErrors.inc({ where }, 0)
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry })
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method: knownMethods.has(method) ? method : 'other', route, status: String(status) }
    this.httpRequests.inc(labels)
    this.httpDuration.observe(labels, seconds)
  }
}

const storeErrorPlaces = ['request', 'provider', 'session-save', 'metrics'] as const
type StoreErrorPlace = typeof storeErrorPlaces[number]

const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * An unreachable database or Redis, counted where it is caught centrally (the error pages,
 * the provider's outage handling, a session that could not be saved). Outside a request
 * (no node to count it for) it is not counted.
 */
export function countStoreError(where: Exclude<StoreErrorPlace, 'metrics'>): void {
  currentRequest()?.metrics?.storeErrors.inc({ where })
}

export interface MetricsServer {
  readonly port: number
  readonly url: string
  close(): Promise<void>
}

/**
 * `GET /metrics` in Prometheus' text format, on its own port (bound to 127.0.0.1 unless
 * told otherwise): nothing else is answered there, and the public port has no `/metrics`.
 */
export async function serveMetrics(metrics: ServiceMetrics, port: number, host: string): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0]
    res.setHeader('Cache-Control', 'no-store')
    res.setHeader('X-Content-Type-Options', 'nosniff')
    if (path !== '/metrics') return void res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET, HEAD' }).end()
    metrics.registry.metrics().then((text) => {
      res.writeHead(200, { 'Content-Type': metrics.registry.contentType })
      res.end(req.method === 'HEAD' ? undefined : text)
    }, () => res.writeHead(500).end())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const actual = (server.address() as AddressInfo).port
  return {
    port: actual,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}
