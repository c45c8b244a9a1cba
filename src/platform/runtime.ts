import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import express, { type Express } from 'express'
import type { Redis } from 'ioredis'
import type { Kysely } from 'kysely'
import type { Clock } from './clock.ts'
import type { Readiness } from './health.ts'
import type { Logger } from './logger.ts'
import { DeliveryWorker, transportFrom, type MailConfig } from './mail/delivery.ts'
import { retryAfterSeconds } from './outages.ts'
import type { RequestObserver } from './request-log.ts'
import { renderServiceUnavailable, securityHeaders } from './security.ts'
import { connectRedis, PostgresShortLivedStore, redisReady, RedisShortLivedStore, type ShortLivedStore } from './short-lived-store.ts'

/**
 * What each service does the same way at start-up and shut-down. A node's life:
 *   open the database (migrate, seed) → bind the port → get ready → serve → drain → stop.
 * From binding until ready it answers 503 (Retry-After) rather than leave a request
 * unanswered; while draining it finishes what it has and takes nothing new. `/healthz`
 * and `/readyz` answer throughout, ahead of the app: no session, no page, no-store.
 */

/** How tests and `npm start` start a service. */
export interface StartOptions<Schema> {
  clock?: Clock
  /** Tests open their own database (in memory, or a fresh one on the server). */
  db?: Kysely<Schema>
  /** Bind to this host; the public URL still says localhost. */
  host?: string
  /** Runs after migrations, before the port is bound (development seeds). */
  beforeListen?: (db: Kysely<Schema>) => Promise<void>
  /** Told each step of starting (`npm start` prints them: a first start takes a while). */
  progress?: (step: string) => void
  /** The service's logger (tests read what it writes); standard output unless given. */
  log?: Logger
}

export type NodeState = 'starting' | 'ready' | 'draining'

export interface WebServer {
  readonly server: http.Server
  readonly port: number
  readonly publicUrl: string
  readonly state: NodeState
  /** From now on requests go to the app; `/readyz` asks `readiness`. */
  serve(app: http.RequestListener, readiness: Readiness): void
  /**
   * Stops taking connections, closes idle keep-alive ones, answers everything still in
   * flight (with `Connection: close`), and after `graceMs` cuts whatever is left.
   * Resolves when no connection is left, with how many requests were cut.
   */
  drain(graceMs: number): Promise<{ cut: number }>
}

/**
 * Binds the port before the app exists, so with port 0 (tests) the public URL (and so an
 * issuer or redirect URI) can carry the real port. Until `serve`, requests get
 * `whileStarting` (the service unavailable page).
 */
export async function listen(port: number, host: string, configuredUrl: string, whileStarting: http.RequestListener, observe?: RequestObserver): Promise<WebServer> {
  let state: NodeState = 'starting'
  let app: http.RequestListener | undefined
  let readiness: Readiness | undefined
  let draining: Promise<{ cut: number }> | undefined
  const connections = new Map<Socket, { requests: number, active: number }>()
  const inFlight = new Set<http.ServerResponse>()

  const server = http.createServer((req, res) => {
    const connection = connections.get(req.socket)
    if (connection) connection.active++
    inFlight.add(res)
    res.once('close', () => {
      inFlight.delete(res)
      if (connection) {
        connection.active--
        connection.requests++
      }
      if (state === 'draining') setImmediate(closeIdle)
    })
    if (state === 'draining') res.setHeader('Connection', 'close')
    // Every request, health checks and all, is logged and counted once it completes.
    if (observe) observe(req, res, () => route(req, res))
    else route(req, res)
  })
  function route(req: http.IncomingMessage, res: http.ServerResponse) {
    const path = (req.url ?? '').split('?', 1)[0]
    if (path === '/healthz' || path === '/readyz') return void answerHealth(path, req, res)
    if (state === 'starting' || !app) return whileStarting(req, res)
    app(req, res)
  }
  let accepted = 0
  server.on('connection', (socket: Socket) => {
    accepted++
    connections.set(socket, { requests: 0, active: 0 })
    socket.once('close', () => connections.delete(socket))
  })
  server.keepAliveTimeout = 65_000

  /**
   * While draining: a keep-alive connection with nothing in flight is closed. One that has
   * not sent its first request yet is not: it was accepted a moment ago and its request
   * is on its way (closing it would reset a request the client has sent); it gets
   * `Connection: close` with its answer, or is closed if it stays silent.
   */
  function closeIdle() {
    for (const [socket, connection] of connections) {
      if (connection.active === 0 && connection.requests > 0) socket.destroy()
    }
  }

  /**
   * Connections the kernel has already completed wait in the listen queue until the
   * process accepts them, and libuv accepts one per turn of the event loop. Closing the
   * listener with some still queued would reset them, requests sent and all: so turn
   * the loop until a turn accepts nothing (at most `limitMs`), then stop listening.
   */
  async function acceptQueued(limitMs: number) {
    const until = Date.now() + limitMs
    let before: number
    do {
      before = accepted
      await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)))
    } while (accepted !== before && Date.now() < until)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const actual = (server.address() as AddressInfo).port

  async function answerHealth(path: string, req: http.IncomingMessage, res: http.ServerResponse) {
    res.setHeader('Cache-Control', 'no-store')
    res.setHeader('X-Content-Type-Options', 'nosniff')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end()
      return
    }
    let status = 200
    let body: Record<string, unknown>
    if (path === '/healthz') {
      // Liveness: the process answers. Nothing else is asked, so a backing service's
      // outage never gets healthy nodes restarted.
      body = { status: 'ok' }
    } else if (state !== 'ready' || !readiness) {
      status = 503
      body = { status: state === 'draining' ? 'stopping' : 'starting' }
    } else {
      const report = await readiness.report()
      status = report.ready ? 200 : 503
      body = { status: report.ready ? 'ready' : 'not ready', checks: report.checks }
    }
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' })
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body))
  }

  return {
    server,
    port: actual,
    publicUrl: port === 0 ? `http://localhost:${actual}` : configuredUrl,
    get state() { return state },
    serve(ready, checks) {
      app = ready
      readiness = checks
      state = 'ready'
    },
    drain(graceMs) {
      draining ??= (async () => {
        state = 'draining'
        for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close')
        // Node's own closeIdleConnections, which close() calls, would also close connections
        // whose first request is still being read: ours closes only the really idle ones.
        server.closeIdleConnections = closeIdle
        await acceptQueued(Math.min(1000, graceMs / 2))
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        // Connections that never send a request are closed after a moment.
        const silent = setTimeout(() => {
          for (const [socket, connection] of connections) if (connection.active === 0) socket.destroy()
        }, Math.min(1000, graceMs)).unref()
        let timer: NodeJS.Timeout | undefined
        const graceOver = new Promise<'grace over'>((resolve) => { timer = setTimeout(() => resolve('grace over'), graceMs) })
        const outcome = await Promise.race([closed, graceOver])
        clearTimeout(timer)
        clearTimeout(silent)
        if (outcome !== 'grace over') return { cut: 0 }
        let cut = 0
        for (const connection of connections.values()) cut += connection.active
        for (const socket of connections.keys()) socket.destroy()
        await closed
        return { cut }
      })()
      return draining
    }
  }
}

/**
 * What a node answers before it is ready: the GOV.UK "service unavailable" page with a
 * short Retry-After, in the service's own look (its views and assets, set up by `useViews`).
 */
export function startingApp(useViews: (app: Express) => void): Express {
  const app = express()
  app.disable('x-powered-by')
  app.use(securityHeaders())
  useViews(app)
  app.use((_req, res) => renderServiceUnavailable(res, retryAfterSeconds.starting))
  return app
}

export interface BackgroundWork {
  store: ShortLivedStore
  redis: Redis | undefined
  /** Stops the outbox worker (after its current batch) and the sweeper. */
  stop(): Promise<void>
  /** Closes the Redis connection: last, once no request needs it. */
  disconnect(): void
}

/**
 * The short-lived store (Redis when configured, else a table swept every 10 minutes)
 * and the outbox delivery worker (when a mail transport is configured).
 */
export async function startBackgroundWork(options: {
  db: Kysely<never>, redisUrl: string | undefined, redisPrefix: string, redisCommandTimeoutMs?: number,
  mail: MailConfig, clock: Clock, log: Logger, progress?: (step: string) => void
}): Promise<BackgroundWork> {
  const { db, clock, log } = options
  let redis: Redis | undefined
  if (options.redisUrl) {
    options.progress?.('connecting to Redis')
    redis = connectRedis(options.redisUrl, {
      commandTimeoutMs: options.redisCommandTimeoutMs,
      onStatus(status, error) {
        if (status === 'connected') log.info('Redis connected')
        else log.warn({ err: error?.message }, 'Redis connection lost; reconnecting (requests that need it get a 503 meanwhile)')
      }
    })
    // Serving before the first connection would answer 503s to requests Redis could take in
    // a moment; but a Redis that is down must not stop the node starting (it reports itself
    // not ready, and recovers when Redis is back).
    if (!await redisReady(redis, 5000)) log.warn('Redis is not reachable yet; the node starts anyway and reports itself not ready')
  }
  const store: ShortLivedStore = redis ? new RedisShortLivedStore(redis, options.redisPrefix) : new PostgresShortLivedStore(db, clock)
  const transport = transportFrom(options.mail)
  const worker = transport ? new DeliveryWorker(db, transport, clock, log) : undefined
  worker?.start()
  const sweeper = store instanceof PostgresShortLivedStore
    ? setInterval(() => { store.sweep().catch((error: unknown) => log.warn({ err: error }, 'sweep failed')) }, 10 * 60_000)
    : undefined
  sweeper?.unref()
  return {
    store,
    redis,
    async stop() {
      clearInterval(sweeper)
      await worker?.stop()
    },
    disconnect() {
      redis?.disconnect()
    }
  }
}
