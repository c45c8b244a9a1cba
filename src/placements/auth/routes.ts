import { Router, type Request, type Response } from 'express'
import { randomState } from 'openid-client'
import { retryAfterSeconds } from '../../platform/outages.ts'
import { cookieFrom, sessionCookieName } from '../../platform/sessions.ts'
import type { PlacementsContext } from '../context.ts'
import { recordAudit } from '../domain/audit.ts'
import { hasAnyAccess } from '../domain/policies.ts'
import { recordSignIn } from '../domain/sign-in.ts'
import { isSupportUser, organisationsOf } from '../domain/users.ts'
import { sameSecret } from '../../platform/security.ts'
import { fileSessionForLogout } from './back-channel-logout.ts'
import { acrMeets } from '../config.ts'
import { authorizationRequest, completeAuthorization, endSessionUrl, providerUnavailable, type PendingAuthorization } from './identity-provider.ts'
import { durationText } from './principal.ts'
import { safeReturnPath } from './return-path.ts'

/** How long a sign-in may take at the provider (account creation included). */
export const pendingSeconds = 3 * 3600
/** The cookie that ties the provider's answer to the browser that asked (the cookies page lists it). */
export const authStateCookieBaseName = 'placements-auth-state'
/** How long a reload may still finish a sign-in whose code was exchanged but not yet recorded. */
const verifiedSeconds = 15 * 60
const emailShape = /^[^\s@<>]{1,64}@[^\s@<>]{1,189}$/

/**
 * Signing in and out through the identity provider (OpenID Connect, code flow with
 * PKCE, state and nonce). The pending request is kept apart from the web session, so a
 * person who spends an hour creating an account still comes back to a working callback.
 */
export function authRoutes(context: PlacementsContext): Router {
  const router = Router()
  const secure = context.config.publicUrl.startsWith('https:')
  const stateCookie = sessionCookieName(authStateCookieBaseName, secure)
  const cookieOptions = { httpOnly: true, secure, sameSite: 'lax' as const, path: '/' }
  const redirectUri = `${context.config.publicUrl}/auth/callback`

  router.get('/sign-in', async (req, res) => {
    const loginHint = typeof req.query.login_hint === 'string' && emailShape.test(req.query.login_hint) ? req.query.login_hint : undefined
    const returnTo = safeReturnPath(req.query.return_to)
    // After an idle timeout the provider's own session may still be alive: without this,
    // anyone at the same computer could sign straight back in with no password.
    const reauthenticate = req.session.get('reauthenticate') === true || req.session.ended === 'idle'
    // Support pages need a stronger sign-in than the rest (ADR 10): a support user is sent back here to step up.
    const settings = context.config.identityProvider
    const acr = req.query.step_up === 'support' ? settings.supportRequiredAcr ?? settings.requiredAcr : settings.requiredAcr
    let request
    try {
      request = await authorizationRequest(context.identityProvider, redirectUri, loginHint, { reauthenticate, acr })
    } catch (error) {
      context.log.error({ err: error }, 'identity provider unavailable')
      return res.status(503).render('auth/provider-unavailable.njk')
    }
    const pending: PendingAuthorization = { verifier: request.verifier, nonce: request.nonce, returnTo }
    await context.store.set(`auth-request:${request.state}`, pending, pendingSeconds)
    res.cookie(stateCookie, request.state, { ...cookieOptions, maxAge: pendingSeconds * 1000 })
    res.redirect(303, request.url.href)
  })

  router.get('/auth/callback', async (req: Request, res: Response) => {
    const state = typeof req.query.state === 'string' ? req.query.state : ''
    const cookieState = cookieFrom(req, stateCookie)
    const pendingKey = `auth-request:${state}`
    const pending = state && state === cookieState ? await context.store.get<PendingAuthorization>(pendingKey) : undefined
    if (!pending) return res.status(400).render('auth/sign-in-problem.njk')
    const finished = async () => {
      await context.store.delete(pendingKey)
      res.clearCookie(stateCookie, cookieOptions)
    }
    if (typeof req.query.error === 'string') {
      await finished()
      return res.status(400).render('auth/sign-in-problem.njk')
    }

    // The code can be exchanged once only. What the exchange proved is kept with the
    // pending request until the sign-in is recorded, so that if anything after it fails
    // (the database is restarting), reloading this page finishes the sign-in without it.
    let result = pending.verified
    if (!result) {
      try {
        result = await completeAuthorization(context.identityProvider, new URL(req.originalUrl, context.config.publicUrl), state, pending)
      } catch (error) {
        if (providerUnavailable(error)) {
          // The provider did not take the code: it is still good, and so is the pending request.
          context.log.error({ err: error }, 'identity provider unavailable')
          return res.status(503).set('Retry-After', String(retryAfterSeconds.outage)).render('auth/provider-unavailable.njk')
        }
        context.log.warn({ err: error instanceof Error ? error.message : 'unknown' }, 'sign-in callback refused')
        await finished()
        return res.status(400).render('auth/sign-in-problem.njk')
      }
      await context.store.set(pendingKey, { ...pending, verified: result }, verifiedSeconds)
    }
    const { claims, idToken } = result
    // The sign-in must reach the level asked for (OIDC_REQUIRED_ACR): a provider that
    // ignored acr_values, or a password alone, does not get in.
    const required = context.config.identityProvider.requiredAcr
    if (!acrMeets(claims.acr, required) || (required !== undefined && Array.isArray(claims.amr) && claims.amr.every((method) => method === 'pwd'))) {
      context.log.warn({ acr: claims.acr, amr: claims.amr }, 'sign-in refused: authentication context too weak')
      await finished()
      return res.status(400).render('auth/sign-in-problem.njk')
    }
    const email = typeof claims.email === 'string' ? claims.email : undefined
    // An invitation is matched by email only when the provider says it has confirmed the
    // address; otherwise anyone could claim an invited address at a lax provider.
    const emailVerified = claims.email_verified === true
    const identity = {
      sub: String(claims.sub),
      email,
      emailVerified,
      givenName: typeof claims.given_name === 'string' ? claims.given_name : undefined,
      familyName: typeof claims.family_name === 'string' ? claims.family_name : undefined
    }
    const now = context.clock.now()
    const user = await recordSignIn(context.db, identity, now)
    const organisations = user ? await organisationsOf(context.db, user.id) : []
    const isSupport = user ? await isSupportUser(context.db, user.id) : false
    await finished()

    if (!user || !hasAnyAccess({ user, organisations, isSupport })) {
      req.session.regenerate({ noAccessEmail: email ?? '', noAccessUnverified: email !== undefined && !emailVerified, idToken })
      return res.redirect(303, '/no-access')
    }
    // New session id at sign-in: nothing from before it survives (no fixation).
    req.session.regenerate({ userId: user.id, idToken, signedInAt: now.getTime(), ...(typeof claims.acr === 'string' ? { acr: claims.acr } : {}) })
    // So the provider can end this session when the person signs out there (back-channel logout).
    await fileSessionForLogout(context, claims.sid, req.session.id)
    if (pending.returnTo) return res.redirect(303, pending.returnTo)
    if (isSupport) return res.redirect(303, '/support/organisations')
    if (organisations.length === 1) {
      req.session.set('organisationId', organisations[0]!.id)
      return res.redirect(303, `/organisations/${organisations[0]!.id}`)
    }
    res.redirect(303, '/organisations')
  })

  router.get('/sign-out', (req, res) => {
    if (!hasSomethingToEnd(req)) return res.redirect(303, '/')
    res.render('auth/sign-out.njk')
  })

  /** Ends both sessions: ours now, the provider's by RP-initiated logout. A POST, so no other site can do it. */
  router.post('/sign-out', (req, res) => signOut(context, req, res))

  router.get('/signed-out', (req, res) => {
    if (req.principal) return res.redirect(303, '/')
    // The provider sends back the state we gave it: only then do we know its session ended too.
    const expected = req.session.get<string>('logoutState')
    const providerSignedOut = expected !== undefined && typeof req.query.state === 'string' && sameSecret(expected, req.query.state)
    if (expected !== undefined) req.session.unset('logoutState')
    res.render('auth/signed-out.njk', { providerSignedOut })
  })

  /**
   * "You have been signed out": only shows the page. Ending a session that is still alive
   * takes the warning's POST (with its CSRF token), so no other site can sign anyone out.
   */
  router.get('/timed-out', (req, res) => {
    if (req.principal) return res.redirect(303, '/')
    // The next sign-in asks the provider for the password again (its session may be alive).
    req.session.regenerate({ reauthenticate: true })
    res.render('auth/timed-out.njk', { idleTime: durationText(context.config.idleTimeoutSeconds) })
  })

  /** The timeout warning reached zero in this tab: the session ends now, even if another tab kept it going. */
  router.post('/timed-out', async (req, res) => {
    const userId = req.session.get<string>('userId')
    // A session the server already ended was audited then (sessions' onEnded).
    if (userId) await recordAudit(context.db, { event: 'session-timed-out', actorUserId: userId, subjectUserId: userId }, context.clock.now())
    req.session.regenerate({ reauthenticate: true })
    res.redirect(303, '/timed-out')
  })

  /** "Stay signed in": any request extends the session; this one does nothing else. */
  router.post('/session/keep-alive', (req, res) => {
    if (!req.session.get('userId')) return res.status(401).json({ signedIn: false })
    if (req.accepts(['json', 'html']) === 'json') return res.json({ signedIn: true, idleTimeoutSeconds: context.config.idleTimeoutSeconds })
    res.redirect(303, safeReturnPath((req.body as Record<string, unknown>)?.returnTo) ?? '/')
  })

  return router
}

function hasSomethingToEnd(req: Request): boolean {
  return req.session.get('userId') !== undefined || req.session.get('idToken') !== undefined
}

async function signOut(context: PlacementsContext, req: Request, res: Response): Promise<void> {
  const idToken = req.session.get<string>('idToken')
  const userId = req.session.get<string>('userId')
  if (userId) await recordAudit(context.db, { event: 'sign-out', actorUserId: userId, subjectUserId: userId }, context.clock.now())
  // Nothing of the old session survives; the new one only remembers the state we give the provider.
  const state = randomState()
  req.session.regenerate({ logoutState: state })
  let target: string | undefined
  try {
    target = await endSessionUrl(context.identityProvider, idToken, `${context.config.publicUrl}/signed-out`, state)
  } catch (error) {
    context.log.warn({ err: error instanceof Error ? error.message : 'unknown' }, 'provider sign-out unavailable')
  }
  res.redirect(303, target ?? '/signed-out')
}

/**
 * Forms that a page left open can send after its session has ended (timed out, or signed
 * out in another tab). They are answered before the CSRF check, which a session that no
 * longer exists can never pass, and none of them can harm a signed-in person:
 * - "Stay signed in": a plain 401, and the warning's script goes to "You have been signed out";
 * - the warning reaching zero: "You have been signed out";
 * - "Sign out": still ends the provider's session (which asks the person to confirm, as it
 *   gets no ID token to recognise us by).
 */
export function formsAfterSessionEnded(context: PlacementsContext) {
  return function formsAfterSessionEndedMiddleware(req: Request, res: Response, next: () => void) {
    if (req.method !== 'POST' || hasSomethingToEnd(req)) return next()
    if (req.path === '/session/keep-alive') {
      if (req.accepts(['json', 'html']) === 'json') return res.status(401).json({ signedIn: false })
      return res.redirect(303, req.session.ended === 'idle' ? '/timed-out' : '/sign-in')
    }
    if (req.path === '/timed-out') return res.redirect(303, '/timed-out')
    if (req.path === '/sign-out') return void signOut(context, req, res).catch(next)
    next()
  }
}

