import { createHash } from 'node:crypto'
import express, { Router } from 'express'
import * as jose from 'jose'
import { sessionStoreKey } from '../../platform/sessions.ts'
import type { PlacementsContext } from '../context.ts'
import { recordAudit } from '../domain/audit.ts'

/**
 * OpenID Connect Back-Channel Logout 1.0, the relying party's side: the provider posts a
 * signed logout token here when a person signs out there (of every service, or of their
 * account everywhere), and the Placements session that began with that provider session
 * (`sid`) ends at once. A provider that never calls it changes nothing.
 *
 * Register `<PLACEMENTS_URL>/auth/backchannel-logout` as the client's
 * `backchannel_logout_uri`, with `backchannel_logout_session_required`.
 */
const logoutEvent = 'http://schemas.openid.net/event/backchannel-logout'
/** A logout token older than this is refused (clocks may differ by a minute or so). */
const maxTokenAgeSeconds = 300

const digest = (value: string) => createHash('sha256').update(value).digest('base64url')
const sidKey = (issuer: string, sid: string) => `logout-sid:${digest(`${issuer} ${sid}`)}`

/** At sign-in: remembers which session began with the provider's session `sid`. */
export async function fileSessionForLogout(context: PlacementsContext, sid: unknown, sessionId: string | undefined): Promise<void> {
  if (typeof sid !== 'string' || sid === '' || !sessionId) return
  const issuer = (await context.identityProvider.configuration()).serverMetadata().issuer
  await context.store.set(sidKey(issuer, sid), sessionStoreKey(sessionId), context.config.absoluteTimeoutSeconds)
}

export class LogoutTokenError extends Error {}

/**
 * The checks of the specification's section 2.6: signature by the issuer's keys with the
 * one configured algorithm, `iss`, `aud`, `iat` recent, the logout event, `sid` (we ask
 * for it), no `nonce`, a `jti` seen only once.
 */
async function verifyLogoutToken(context: PlacementsContext, token: string, keys: jose.JWTVerifyGetKey): Promise<{ sub?: string, sid: string, jti: string, issuer: string }> {
  const config = await context.identityProvider.configuration()
  const issuer = config.serverMetadata().issuer
  let payload: jose.JWTPayload
  try {
    ({ payload } = await jose.jwtVerify(token, keys, {
      issuer,
      audience: config.clientMetadata().client_id,
      algorithms: [context.config.identityProvider.idTokenSigningAlg],
      maxTokenAge: maxTokenAgeSeconds,
      requiredClaims: ['iat', 'jti', 'events']
    }))
  } catch (error) {
    throw new LogoutTokenError(error instanceof Error ? error.message : 'not a valid token')
  }
  const events = payload.events as Record<string, unknown> | undefined
  if (typeof events !== 'object' || events === null || typeof events[logoutEvent] !== 'object' || events[logoutEvent] === null) {
    throw new LogoutTokenError('no back-channel logout event')
  }
  if ('nonce' in payload) throw new LogoutTokenError('a logout token must not carry a nonce')
  if (typeof payload.sid !== 'string' || payload.sid === '') throw new LogoutTokenError('no sid (backchannel_logout_session_required)')
  if (typeof payload.jti !== 'string' || payload.jti === '') throw new LogoutTokenError('no jti')
  return { sub: payload.sub, sid: payload.sid, jti: payload.jti, issuer }
}

export function backChannelLogoutRoutes(context: PlacementsContext): Router {
  const router = Router()
  let keys: { uri: string, set: jose.JWTVerifyGetKey } | undefined
  // The provider's JWKS, cached by jose and fetched again for a key id it has not seen.
  const keySet = async () => {
    const uri = (await context.identityProvider.configuration()).serverMetadata().jwks_uri
    if (!uri) throw new Error('the provider publishes no jwks_uri')
    if (keys?.uri !== uri) keys = { uri, set: jose.createRemoteJWKSet(new URL(uri)) }
    return keys.set
  }

  router.post('/auth/backchannel-logout', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    res.set('Cache-Control', 'no-store')
    const body = req.body as Record<string, unknown> | undefined
    const token = typeof body?.logout_token === 'string' ? body.logout_token : undefined
    if (!token) return res.status(400).json({ error: 'invalid_request', error_description: 'logout_token is required' })
    let claims
    try {
      claims = await verifyLogoutToken(context, token, await keySet())
    } catch (error) {
      if (!(error instanceof LogoutTokenError)) throw error
      context.log.warn({ reason: error.message }, 'back-channel logout token refused')
      return res.status(400).json({ error: 'invalid_request', error_description: 'the logout token is not valid' })
    }
    // Each token works once: one atomic reservation per jti, on every node.
    const used = await context.store.reserveAttempt(`logout-jti:${digest(`${claims.issuer} ${claims.jti}`)}`,
      { limit: 1, windowSeconds: maxTokenAgeSeconds * 2 }, context.clock.now())
    if (used.count > 1) {
      context.log.warn('back-channel logout token used again')
      return res.status(400).json({ error: 'invalid_request', error_description: 'the logout token has been used' })
    }
    const key = sidKey(claims.issuer, claims.sid)
    const sessionKey = await context.store.get<string>(key)
    if (sessionKey) {
      const session = await context.store.get<{ data?: Record<string, unknown> }>(sessionKey)
      await context.store.delete(sessionKey)
      await context.store.delete(key)
      const userId = typeof session?.data?.userId === 'string' ? session.data.userId : undefined
      if (userId) await recordAudit(context.db, { event: 'sign-out', actorUserId: userId, subjectUserId: userId, details: { by: 'identity provider' } }, context.clock.now())
    }
    res.status(200).end()
  })
  return router
}
