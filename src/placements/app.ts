import express, { type Express, type NextFunction, type Request, type Response } from 'express'
import { devMailbox } from '../platform/dev-mailbox.ts'
import { countStoreError } from '../platform/metrics.ts'
import { isOutage } from '../platform/outages.ts'
import { feedbackRoutes } from '../platform/feedback.ts'
import { csrfProtection, errorPages, formBodies, noStore, notFound, securityHeaders } from '../platform/security.ts'
import { serviceGlobals, servicePageRoutes, whenBrowserCloses, inWords, type CookieUse } from '../platform/service-pages.ts'
import { sessionCookieName, sessions } from '../platform/sessions.ts'
import { serveAssets, useViews } from '../platform/views.ts'
import type { IdentityProvider } from './auth/identity-provider.ts'
import { authRoutes, authStateCookieBaseName, formsAfterSessionEnded, pendingSeconds } from './auth/routes.ts'
import { backChannelLogoutRoutes } from './auth/back-channel-logout.ts'
import type { PlacementsConfig } from './config.ts'
import { loadPrincipal } from './auth/principal.ts'
import { serviceName, type PlacementsContext } from './context.ts'
import { recordAudit } from './domain/audit.ts'
import { displayName } from './domain/users.ts'
import { organisationRoutes } from './pages/organisations/routes.ts'
import { startRoutes } from './pages/start/routes.ts'
import { supportRoutes } from './pages/support/routes.ts'
import { userRoutes } from './pages/users/routes.ts'

export const sessionCookieBaseName = 'placements-session'

/** Placements' templates and assets (also served by a node that is still starting). */
export function usePlacementsViews(app: Express, identityProvider: IdentityProvider, config: Pick<PlacementsConfig, 'info'>): void {
  useViews(app, import.meta.dirname, {
    productName: serviceName, productUrl: '/', identityProviderName: identityProvider.displayName,
    serviceLayout: 'placements-layout.njk', ...serviceGlobals(config.info)
  })
  serveAssets(app, import.meta.dirname)
}

/** Every cookie Placements sets, from its session settings: the cookies page lists exactly these (a test compares). */
export function placementsCookies(config: Pick<PlacementsConfig, 'publicUrl' | 'idleTimeoutSeconds'>): CookieUse[] {
  const secure = config.publicUrl.startsWith('https:')
  return [{
    name: sessionCookieName(sessionCookieBaseName, secure),
    purpose: `Keeps you signed in, and protects forms from misuse. You are signed out after ${inWords(config.idleTimeoutSeconds)} without using the service`,
    expires: whenBrowserCloses
  }, {
    name: sessionCookieName(authStateCookieBaseName, secure),
    purpose: 'Makes sure that the sign-in you come back with is the one you started, in this browser. It is deleted once you have signed in',
    expires: inWords(pendingSeconds)
  }]
}

export function buildPlacementsApp(context: PlacementsContext): Express {
  const { config } = context
  const app = express()
  app.disable('x-powered-by')
  // Every page is Cache-Control: no-store, so a browser never revalidates it: hashing each
  // page's body for an ETag was wasted CPU. (Assets keep theirs: express.static makes its own.)
  app.set('etag', false)
  app.set('trust proxy', config.trustProxy ? 1 : false)
  app.use(securityHeaders())
  // Static assets first: fetching a stylesheet is not activity and must not extend a session.
  usePlacementsViews(app, context.identityProvider, config)
  // Server to server, from the provider: no session, no CSRF token (the signed token is the proof).
  app.use(backChannelLogoutRoutes(context))

  app.use(sessions({
    cookieName: sessionCookieBaseName,
    secure: config.publicUrl.startsWith('https:'),
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    absoluteTimeoutSeconds: config.absoluteTimeoutSeconds,
    store: context.store,
    clock: context.clock,
    onSaveFailed: (error) => {
      if (isOutage(error)) countStoreError('session-save')
      context.log.warn({ err: error }, 'session not saved')
    },
    async onEnded(end, data) {
      const userId = typeof data.userId === 'string' ? data.userId : undefined
      if (end !== 'idle' || !userId) return
      await recordAudit(context.db, { event: 'session-timed-out', actorUserId: userId, subjectUserId: userId }, context.clock.now())
    }
  }))
  app.use(noStore, formBodies(), formsAfterSessionEnded(context), csrfProtection, loadPrincipal(context), navigation)
  app.use(authRoutes(context))
  app.use(startRoutes(context))
  app.use(organisationRoutes(context))
  app.use(userRoutes(context))
  app.use(supportRoutes(context))
  app.use(servicePageRoutes({
    cookies: placementsCookies(config),
    description: 'When someone adds you to the service we collect your name, your email address and the organisations you work for. When you sign in, the identity provider tells us your email address and name.'
  }))
  app.use(feedbackRoutes(context))
  if (config.environment !== 'production') app.use(devMailbox(context.db))
  app.use(notFound)
  app.use(errorPages({ log: (error, req, reference) => context.log.error({ err: error, requestId: reference, path: req.path, reference }, 'request failed') }))
  return app
}

/** The header's links: where a signed-in person can go from any page. */
function navigation(req: Request, res: Response, next: NextFunction) {
  res.locals.currentPath = req.originalUrl.slice(0, 500)
  const principal = req.principal
  if (!principal) return next()
  const at = (prefix: string) => req.path.startsWith(prefix)
  const items = []
  if (principal.isSupport) {
    // An organisation's own pages are reached from the console's list, so they sit under it.
    const inOrganisation = at('/organisations/')
    items.push({ text: 'Organisations', href: '/support/organisations', active: at('/support/organisations') || inOrganisation })
    items.push({ text: 'Support users', href: '/support/support-users', active: at('/support/support-users') })
    items.push({ text: 'Audit trail', href: '/support/audit', active: at('/support/audit') })
    items.push({ text: 'Feedback', href: '/support/feedback', active: at('/support/feedback') })
  }
  if (principal.organisations.length > 1 || (principal.isSupport && principal.organisations.length > 0)) {
    items.push({ text: 'Change organisation', href: '/organisations', active: req.path === '/organisations' })
  }
  res.locals.navigation = items
  // Whose account is in use, and a button, not a link: signing out is a POST with the CSRF token (layout.njk).
  res.locals.signedInName = displayName(principal.user)
  res.locals.signOutButton = true
  next()
}
