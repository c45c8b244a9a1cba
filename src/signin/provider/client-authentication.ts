import { createHash } from 'node:crypto'
import express, { type NextFunction, type Request, type Response } from 'express'
import type { Clock } from '../../platform/clock.ts'
import { isOutage, retryAfterSeconds } from '../../platform/outages.ts'
import type { AttemptRule, ShortLivedStore } from '../../platform/short-lived-store.ts'
import { digestSecret } from './clients.ts'

/**
 * How services prove who they are at the provider's endpoints (token, revocation,
 * pushed authorization requests: whichever of them a client authenticates at).
 *
 * These run before oidc-provider on every POST it is handed, not on a list of paths, so
 * an endpoint added or enabled later cannot be missed: any client secret presented, in
 * the body or in Basic credentials, is replaced by its digest (ADR 3), and failed client
 * authentications are limited.
 */
const bodyParser = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 100 })

export function clientAuthentication(options: { store: ShortLivedStore, clock: Clock }) {
  const limits = clientAuthenticationLimits(options)
  return function clientAuthenticationMiddleware(req: Request, res: Response, next: NextFunction) {
    if (req.method !== 'POST') return next()
    bodyParser(req, res, (error?: unknown) => {
      if (error) return next(error)
      presentedSecretsAsDigests(req)
      limits(req, res, next)
    })
  }
}

function presentedSecretsAsDigests(req: Request): void {
  const body = req.body as Record<string, unknown> | undefined
  if (body && typeof body.client_secret === 'string') body.client_secret = digestSecret(body.client_secret)
  const basic = basicCredentials(req)
  if (basic) {
    req.headers.authorization = 'Basic ' + Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(digestSecret(basic.secret))}`).toString('base64')
  }
}

/** RFC 6749 §2.3.1: both parts form-encoded, then joined by a colon and Base64-encoded. */
function basicCredentials(req: Request): { id: string, secret: string } | undefined {
  const header = req.headers.authorization
  if (!header?.toLowerCase().startsWith('basic ')) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return undefined
  try {
    const formDecode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '))
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) }
  } catch {
    // Malformed encoding: left for oidc-provider to refuse as invalid_client.
    return undefined
  }
}

/** The client a request claims to be: Basic credentials, client_id, or a client assertion's issuer. */
function claimedClient(req: Request): string | undefined {
  const basic = basicCredentials(req)
  if (basic) return basic.id
  const body = req.body as Record<string, unknown> | undefined
  if (typeof body?.client_id === 'string') return body.client_id
  if (typeof body?.client_assertion === 'string') {
    try {
      const claims = JSON.parse(Buffer.from(body.client_assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown }
      return typeof claims.iss === 'string' ? claims.iss : undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/**
 * Failed client authentications (docs/security.md, "client secrets"): at most 10 in 15
 * minutes for one client from one IP address, and 50 an hour from one IP address, each
 * reserved before the provider checks the credentials and given back when they were
 * right, as for passwords. There is deliberately no limit on a client across all IP
 * addresses: anyone who knows a service's client_id could then stop every sign-in to it
 * by failing on purpose, and its 256-bit secret cannot be guessed anyway.
 */
export const clientAuthenticationRules = {
  perClientAndIp: { limit: 10, windowSeconds: 15 * 60, lockSeconds: 15 * 60 } satisfies AttemptRule,
  perIp: { limit: 50, windowSeconds: 3600 } satisfies AttemptRule
}

function clientAuthenticationLimits({ store, clock }: { store: ShortLivedStore, clock: Clock }) {
  return async function clientAuthenticationLimitsMiddleware(req: Request, res: Response, next: NextFunction) {
    const clientId = claimedClient(req)
    if (clientId === undefined) return next()
    const ip = req.ip ?? 'unknown'
    const now = clock.now()
    const clientKey = 'client-auth-failures:' + createHash('sha256').update(`${clientId}\n${ip}`).digest('base64url')
    const ipKey = 'client-auth-ip-failures:' + ip
    try {
      // Both at once (one round trip), before the provider checks the secret.
      const [client, network] = await Promise.all([
        store.reserveAttempt(clientKey, clientAuthenticationRules.perClientAndIp, now),
        store.reserveAttempt(ipKey, clientAuthenticationRules.perIp, now)
      ])
      if (!client.allowed || !network.allowed) {
        // Refused before any check, so neither count keeps it. Failures already counted keep
        // the lock (it lifts only when the count falls under the limit), but a burst of
        // genuine requests is refused only while it lasts: kept, the refused reservations
        // held the count at the limit after the burst's own were given back, and locked the
        // service out for 15 minutes.
        await Promise.all([
          store.releaseAttempt(clientKey, clientAuthenticationRules.perClientAndIp, now),
          store.releaseAttempt(ipKey, clientAuthenticationRules.perIp, now)
        ])
        const until = (client.allowed ? network.lockedUntil : client.lockedUntil) ?? new Date(now.getTime() + 60_000)
        res.setHeader('Retry-After', String(Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000))))
        res.setHeader('Cache-Control', 'no-store')
        return res.status(429).json({ error: 'invalid_client', error_description: 'Too many failed client authentications. Try again later.' })
      }
      // Anything but a refused client authentication gives both reservations back.
      res.on('finish', () => {
        if (res.statusCode === 401) return
        Promise.all([
          store.releaseAttempt(clientKey, clientAuthenticationRules.perClientAndIp, now),
          store.releaseAttempt(ipKey, clientAuthenticationRules.perIp, now)
        ]).catch(() => {})
      })
      next()
    } catch (error) {
      if (!isOutage(error)) return next(error)
      // The counters are out of reach: refuse (never skip the limit), in the services' own language.
      res.setHeader('Retry-After', String(retryAfterSeconds.outage))
      res.setHeader('Cache-Control', 'no-store')
      res.status(503).json({ error: 'temporarily_unavailable', error_description: 'The service is unavailable; try again later' })
    }
  }
}
