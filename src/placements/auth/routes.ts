import { Router, type Request, type Response } from 'express'
import { sessionCookieName } from '../../platform/sessions.ts'
import type { PlacementsContext } from '../context.ts'
import { recordAudit } from '../domain/audit.ts'
import { hasAnyAccess } from '../domain/policies.ts'
import { recordSignIn } from '../domain/sign-in.ts'
import { isSupportUser, organisationsOf } from '../domain/users.ts'
import { authorizationRequest, completeAuthorization, endSessionUrl, type PendingAuthorization } from './identity-provider.ts'
import { durationText, safeReturnPath } from './principal.ts'

/** How long a sign-in may take at the provider (account creation included). */
const pendingSeconds = 3 * 3600
const emailShape = /^[^\s@<>]{1,64}@[^\s@<>]{1,189}$/

/**
 * Signing in and out through the identity provider (OpenID Connect, code flow with
 * PKCE, state and nonce). The pending request is kept apart from the web session, so a
 * person who spends an hour creating an account still comes back to a working callback.
 */
export function authRoutes(context: PlacementsContext): Router {
  const router = Router()
  const secure = context.config.publicUrl.startsWith('https:')
  const stateCookie = sessionCookieName('placements-auth-state', secure)
  const cookieOptions = { httpOnly: true, secure, sameSite: 'lax' as const, path: '/' }
  const redirectUri = `${context.config.publicUrl}/auth/callback`

  router.get('/sign-in', async (req, res) => {
    const loginHint = typeof req.query.login_hint === 'string' && emailShape.test(req.query.login_hint) ? req.query.login_hint : undefined
    const returnTo = safeReturnPath(req.query.return_to)
    // After an idle timeout the provider's own session may still be alive: without this,
    // anyone at the same computer could sign straight back in with no password.
    const reauthenticate = req.session.get('reauthenticate') === true || req.session.ended === 'idle'
    let request
    try {
      request = await authorizationRequest(context.identityProvider, redirectUri, loginHint, { reauthenticate })
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
    const cookieState = readCookie(req, stateCookie)
    const pending = state && state === cookieState ? await context.store.get<PendingAuthorization>(`auth-request:${state}`) : undefined
    if (!pending) return res.status(400).render('auth/sign-in-problem.njk')
    await context.store.delete(`auth-request:${state}`)
    res.clearCookie(stateCookie, cookieOptions)
    if (typeof req.query.error === 'string') return res.status(400).render('auth/sign-in-problem.njk')

    let result
    try {
      result = await completeAuthorization(context.identityProvider, new URL(req.originalUrl, context.config.publicUrl), state, pending)
    } catch (error) {
      context.log.warn({ err: error instanceof Error ? error.message : 'unknown' }, 'sign-in callback refused')
      return res.status(400).render('auth/sign-in-problem.njk')
    }
    const { claims, idToken } = result
    const identity = {
      sub: String(claims.sub),
      email: typeof claims.email === 'string' ? claims.email : undefined,
      givenName: typeof claims.given_name === 'string' ? claims.given_name : undefined,
      familyName: typeof claims.family_name === 'string' ? claims.family_name : undefined
    }
    const now = context.clock.now()
    const user = await recordSignIn(context.db, identity, now)
    const organisations = user ? await organisationsOf(context.db, user.id) : []
    const isSupport = user ? await isSupportUser(context.db, user.id) : false

    if (!user || !hasAnyAccess({ user, organisations, isSupport })) {
      req.session.regenerate({ noAccessEmail: identity.email ?? '', idToken })
      return res.redirect(303, '/no-access')
    }
    // New session id at sign-in: nothing from before it survives (no fixation).
    req.session.regenerate({ userId: user.id, idToken, signedInAt: now.getTime() })
    if (pending.returnTo) return res.redirect(303, pending.returnTo)
    if (isSupport) return res.redirect(303, '/support/organisations')
    if (organisations.length === 1) {
      req.session.set('organisationId', organisations[0]!.id)
      return res.redirect(303, `/organisations/${organisations[0]!.id}`)
    }
    res.redirect(303, '/organisations')
  })

  /** Ends both sessions: ours now, the provider's by RP-initiated logout. */
  router.get('/sign-out', async (req, res) => {
    const idToken = req.session.get<string>('idToken')
    const userId = req.session.get<string>('userId')
    if (userId) await recordAudit(context.db, { event: 'sign-out', actorUserId: userId, subjectUserId: userId }, context.clock.now())
    req.session.destroy()
    let target: string | undefined
    try {
      target = await endSessionUrl(context.identityProvider, idToken, `${context.config.publicUrl}/signed-out`)
    } catch (error) {
      context.log.warn({ err: error instanceof Error ? error.message : 'unknown' }, 'provider sign-out unavailable')
    }
    res.redirect(303, target ?? '/signed-out')
  })

  router.get('/signed-out', (_req, res) => res.render('auth/signed-out.njk'))

  /** After inactivity: the server has ended (or now ends) the session; say so plainly. */
  router.get('/timed-out', async (req, res) => {
    const userId = req.session.get<string>('userId')
    // A session the server already ended was audited then (sessions' onEnded); this one is
    // still alive because the warning's countdown arrived first.
    if (userId) await recordAudit(context.db, { event: 'session-timed-out', actorUserId: userId, subjectUserId: userId }, context.clock.now())
    // A fresh, signed-out session that only remembers to ask the provider for the password again.
    req.session.regenerate({ reauthenticate: true })
    // The page shows the person as signed out even if the session was still alive a moment ago
    // (the warning's script arrives at zero; another tab kept the session going): no header
    // links, no timeout warning.
    delete req.principal
    res.locals.principal = undefined
    res.locals.navigation = undefined
    res.locals.timeout = undefined
    res.render('auth/timed-out.njk', { idleTime: durationText(context.config.idleTimeoutSeconds) })
  })

  /** "Stay signed in": any request extends the session; this one does nothing else. */
  router.post('/session/keep-alive', (req, res) => {
    if (!req.session.get('userId')) return res.status(401).json({ signedIn: false })
    if (req.accepts(['json', 'html']) === 'json') return res.json({ signedIn: true, idleTimeoutSeconds: context.config.idleTimeoutSeconds })
    res.redirect(303, safeReturnPath((req.body as Record<string, unknown>)?.returnTo) ?? '/')
  })

  return router
}

/**
 * "Stay signed in" after the session has already ended (timed out, or signed out in another
 * tab): a plain 401, before the CSRF check, which a session that no longer exists can
 * never pass. The warning's script then goes to "You have been signed out".
 */
export function keepAliveWhenSignedOut(req: Request, res: Response, next: () => void) {
  if (req.method !== 'POST' || req.path !== '/session/keep-alive' || req.session.get('userId')) return next()
  if (req.accepts(['json', 'html']) === 'json') return res.status(401).json({ signedIn: false })
  res.redirect(303, req.session.ended === 'idle' ? '/timed-out' : '/sign-in')
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=')
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim()
  }
  return undefined
}
