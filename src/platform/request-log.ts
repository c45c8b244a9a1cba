import type http from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Logger } from './logger.ts'
import type { ServiceMetrics } from './metrics.ts'
import { inRequestScope } from './request-scope.ts'
import { errorReference } from './security.ts'

/**
 * One log line per request, when it completes (docs/operations.md, "Logs"): its id, method,
 * route, status and duration. Nothing else of the request is logged: never the query
 * string, the body, a cookie or the Authorization header (docs/security.md, "secrets and
 * logs"). Every request is also counted in the node's metrics, and runs in a request
 * scope (request-scope.ts) that carries its id and the metrics.
 */

/** An `X-Request-Id` we take as given (from a proxy): a short token of safe characters. */
const safeRequestId = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/**
 * The request's id: the proxy's, if it is a safe short token, else one of ours in the form
 * support can read out ("K7QF-3XMA"). It is sent back as `X-Request-Id` and is the
 * reference on the 500 page, so what a person reads out finds the log lines.
 */
export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && safeRequestId.test(header) ? header : errorReference()
}

export interface RequestObserverOptions {
  log: Logger
  metrics?: ServiceMetrics | undefined
  /**
   * A metrics label for a path no Express route matched (the provider's endpoints, say):
   * paths themselves would make a label per URL. Unknown paths are counted as "unmatched".
   */
  routeFamily?: (path: string) => string | undefined
}

export type RequestObserver = (req: http.IncomingMessage, res: http.ServerResponse, handle: () => void) => void

export function observeRequests(options: RequestObserverOptions): RequestObserver {
  // Written directly rather than through pino-http, which made two child loggers (each
  // copying the logger's bindings and redaction) per request for a line whose content we choose.
  // Its keys are fixed and none is a redacted path, so redaction could never change it; it cost
  // about 10 µs a line (pino clones and walks every object against each path).
  const requestLog = options.log.child({}, { redact: [] })
  return function observe(req, res, handle) {
    const started = performance.now()
    const id = requestIdFor(req.headers['x-request-id'])
    res.setHeader('X-Request-Id', id)
    const route = captureRoute(req)
    let done = false
    const complete = (error?: unknown) => {
      if (done) return
      done = true
      const elapsedMs = performance.now() - started
      const line = {
        requestId: id,
        method: req.method,
        route: route.pattern() ?? options.routeFamily?.(pathOf(req)) ?? pathOf(req),
        status: res.statusCode,
        durationMs: Math.round(elapsedMs),
        ...(res.writableFinished ? {} : { aborted: true })
      }
      // Only what we choose reaches a line: never the request object itself.
      if (error !== undefined || res.statusCode >= 500) requestLog.error(line, 'request completed')
      else requestLog.info(line, 'request completed')
      if (options.metrics) {
        const label = route.pattern() ?? fixedRouteLabel(pathOf(req)) ?? options.routeFamily?.(pathOf(req)) ?? 'unmatched'
        options.metrics.observeRequest(req.method ?? 'GET', label, res.statusCode, elapsedMs / 1000)
      }
    }
    res.once('finish', () => complete())
    res.once('close', () => complete())
    res.once('error', (error: unknown) => complete(error))
    inRequestScope({ id, metrics: options.metrics }, handle)
  }
}

function pathOf(req: http.IncomingMessage): string {
  return (req.url ?? '').split('?', 1)[0]!
}

/** Paths every node answers without a route: health checks and static assets. */
function fixedRouteLabel(path: string): string | undefined {
  if (path === '/healthz' || path === '/readyz') return path
  if (path.startsWith('/assets/')) return '/assets/*'
  return undefined
}

/**
 * Express sets `req.route` as it enters the route that matches, and `req.params` at every
 * layer; by the time the response is sent an error may have unwound `req.baseUrl`. So the
 * pattern is taken when the route is entered: the mount path with its parameters'
 * values put back as `:name` (`/interaction/:uid`), then the route's own path (`/login`).
 */
function captureRoute(req: http.IncomingMessage): { pattern(): string | undefined } {
  let route: unknown
  let params: unknown
  let pattern: string | undefined
  const seen = new Map<string, string>()
  const request = req as http.IncomingMessage & { baseUrl?: string }
  Object.defineProperty(req, 'params', {
    configurable: true, enumerable: true,
    get: () => params,
    set(value: unknown) {
      params = value
      if (value && typeof value === 'object') {
        for (const [name, given] of Object.entries(value)) if (typeof given === 'string' && given !== '') seen.set(name, given)
      }
    }
  })
  Object.defineProperty(req, 'route', {
    configurable: true, enumerable: true,
    get: () => route,
    set(value: unknown) {
      route = value
      const path = (value as { path?: unknown } | undefined)?.path
      if (typeof path !== 'string') return
      const base = (request.baseUrl ?? '').split('/').map((segment) => {
        for (const [name, given] of seen) if (segment === given || segment === encodeURIComponent(given)) return `:${name}`
        return segment
      }).join('/')
      pattern = base + (path === '/' && base !== '' ? '' : path)
    }
  })
  return { pattern: () => pattern }
}
