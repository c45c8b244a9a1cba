import { randomBytes, timingSafeEqual } from 'node:crypto'
import express, { type NextFunction, type Request, type Response } from 'express'
import { countStoreError } from './metrics.ts'
import { isOutage, retryAfterSeconds } from './outages.ts'
import { currentRequest } from './request-scope.ts'

/**
 * Response headers from docs/security.md ("headers"): a CSP with a fresh nonce per response
 * and no 'unsafe-inline', no framing, HSTS, a strict referrer policy, and no-store on
 * every page we render (form pages and signed-in pages alike; static assets are cached).
 */
export function securityHeaders() {
  // The policy is the same for every response but for its nonce: joined once, around it.
  const [beforeNonce, afterNonce] = [
    "default-src 'self'",
    "script-src 'self' 'nonce-\0'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'"
  ].join('; ').split('\0') as [string, string]
  return function securityHeadersMiddleware(_req: Request, res: Response, next: NextFunction) {
    const nonce = randomBytes(16).toString('base64')
    res.locals.cspNonce = nonce
    res.setHeader('Content-Security-Policy', beforeNonce + nonce + afterNonce)
    res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains')
    res.setHeader('Referrer-Policy', 'no-referrer')
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('X-Frame-Options', 'DENY')
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
    res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()')
    next()
  }
}

/**
 * Behind a TLS-terminating proxy (an https public URL with TRUST_PROXY=true), a request
 * that did not come through it as https, or whose proxy did not say so with
 * X-Forwarded-Proto, cannot be given Secure cookies. It is sent to the https address
 * (GET, HEAD) or refused plainly (anything else) rather than failing with a 500, and the
 * misconfiguration is logged once.
 */
export function requireHttps(options: { publicUrl: string, warn: (message: string, details: Record<string, unknown>) => void }) {
  let warned = false
  return function requireHttpsMiddleware(req: Request, res: Response, next: NextFunction) {
    if (req.secure) return next()
    if (!warned) {
      warned = true
      options.warn('a request arrived over http although the public URL is https: the proxy must send X-Forwarded-Proto: https', {
        path: req.path, forwardedProto: req.headers['x-forwarded-proto'] ?? null
      })
    }
    res.setHeader('Cache-Control', 'no-store')
    if (req.method === 'GET' || req.method === 'HEAD') return res.redirect(308, options.publicUrl + req.originalUrl)
    res.status(400).render('errors/bad-request.njk', { status: 400 })
  }
}

export function noStore(_req: Request, res: Response, next: NextFunction) {
  res.setHeader('Cache-Control', 'no-store')
  res.setHeader('Pragma', 'no-cache')
  next()
}

/** Form bodies only, small ones (docs/security.md, "input"): 16 KiB is far above any form here. */
export const formBodyLimit = '16kb'
export function formBodies() {
  return express.urlencoded({ extended: false, limit: formBodyLimit, parameterLimit: 50 })
}

/**
 * Synchroniser token (docs/security.md, "CSRF"): one random token per session, put in every
 * form, compared in constant time on every state-changing request. SameSite=Lax cookies
 * are the second line.
 */
export function csrfToken(req: Request): string {
  let token = req.session.get<string>('csrfToken')
  if (!token) {
    token = randomBytes(32).toString('base64url')
    req.session.set('csrfToken', token)
  }
  return token
}

/**
 * What templates print as `{{ csrfToken }}` on a GET: the token is made (and so a session
 * stored) only when a page really renders a form. A page without one (the start page, a
 * load balancer's probe of it) leaves nothing in the store.
 */
class TokenOnFirstUse {
  readonly #req: Request
  constructor(req: Request) {
    this.#req = req
  }
  toString(): string { return csrfToken(this.#req) }
  toJSON(): string { return csrfToken(this.#req) }
}

export class CsrfError extends Error {
  readonly status = 403
}

export function csrfProtection(req: Request, res: Response, next: NextFunction) {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') {
    res.locals.csrfToken = new TokenOnFirstUse(req)
    return next()
  }
  const expected = req.session.get<string>('csrfToken')
  const given = typeof req.body?._csrf === 'string' ? req.body._csrf : ''
  if (!expected || !sameSecret(expected, given)) return next(new CsrfError('Missing or wrong CSRF token'))
  res.locals.csrfToken = expected
  next()
}

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

/**
 * A short reference for one logged error ("K7QF-3XMA"), shown on the 500 page so support can
 * find the log line from what the person reads out. Letters and digits that cannot be
 * confused (no 0/O, 1/I/L), about 40 bits: unique enough to find one error in a day's logs.
 */
export function errorReference(): string {
  const alphabet = '23456789ABCDEFGHJKMNPQRSTUVWXYZ'
  const bytes = randomBytes(8)
  let text = ''
  for (const byte of bytes) text += alphabet[byte % alphabet.length]
  return `${text.slice(0, 4)}-${text.slice(4)}`
}

/**
 * A GOV.UK page for anything that went wrong; 4xx for anything the request caused, 503
 * when a backing service is unreachable (outages.ts), 500 for the rest. Every logged error
 * gets a reference (the request's id, `X-Request-Id`), given to `log` and shown on the 500 page.
 */
export function errorPages(options: { log: (error: unknown, req: Request, reference: string) => void }) {
  return function errorPageHandler(error: unknown, req: Request, res: Response, _next: NextFunction) {
    const outage = isOutage(error)
    const status = outage ? 503 : statusOf(error)
    // The request's id (request-log.ts) is the reference: the one log line and the error share it.
    const reference = currentRequest()?.id ?? errorReference()
    if (outage) countStoreError('request')
    // A 503 of our own choosing (too busy to hash a password) is expected under load, not a fault.
    if (status >= 500 && (outage || status !== 503)) options.log(error, req, reference)
    if (res.headersSent) return res.end()
    if (status === 503) return renderServiceUnavailable(res)
    res.status(status)
    res.setHeader('Cache-Control', 'no-store')
    // Only a failed CSRF check means "the form expired"; any other refusal says so plainly.
    const view = error instanceof CsrfError ? 'errors/forbidden.njk'
      : status === 403 ? 'errors/not-allowed.njk'
      : status === 404 ? 'errors/not-found.njk'
        : status < 500 ? 'errors/bad-request.njk' : 'errors/server-error.njk'
    res.render(view, { status, ...(status >= 500 ? { reference } : {}) }, (renderError: Error | null, html?: string) => {
      if (renderError || html === undefined) {
        res.type('text/plain').send(status < 500 ? 'There was a problem with your request.' : `Sorry, there is a problem with the service. Reference: ${reference}`)
        return
      }
      res.send(html)
    })
  }
}

/**
 * The GOV.UK "Sorry, the service is unavailable" page, 503 with Retry-After: the one
 * answer for an outage of the database or Redis, whatever the page was going to be.
 */
export function renderServiceUnavailable(res: Response, retryAfter = retryAfterSeconds.outage): void {
  res.status(503)
  res.setHeader('Retry-After', String(retryAfter))
  res.setHeader('Cache-Control', 'no-store')
  res.render('errors/service-unavailable.njk', {}, (renderError: Error | null, html?: string) => {
    if (renderError || html === undefined) {
      res.type('text/plain').send('Sorry, the service is unavailable. Wait a few minutes, then try again.')
      return
    }
    res.send(html)
  })
}

function statusOf(error: unknown): number {
  if (error && typeof error === 'object') {
    const status = (error as { status?: unknown, statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode
    if (typeof status === 'number' && status >= 400 && status < 600) return status
  }
  return 500
}

export function notFound(_req: Request, res: Response) {
  res.setHeader('Cache-Control', 'no-store')
  res.status(404).render('errors/not-found.njk')
}
