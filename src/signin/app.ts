import express, { type Express } from 'express'
import type nunjucks from 'nunjucks'
import type Provider from 'oidc-provider'
import { devMailbox } from '../platform/dev-mailbox.ts'
import { csrfProtection, errorPages, formBodies, noStore, notFound, requireHttps, securityHeaders } from '../platform/security.ts'
import { sessions } from '../platform/sessions.ts'
import { serveAssets, useViews } from '../platform/views.ts'
import type { SigninContext } from './context.ts'
import { createAccountRoutes } from './journeys/create-account/routes.ts'
import { forgottenPasswordRoutes } from './journeys/forgotten-password/routes.ts'
import { loadInteraction } from './journeys/journey.ts'
import { secondFactorRoutes } from './journeys/second-factor/routes.ts'
import { signInRoutes } from './journeys/sign-in/routes.ts'
import { clientAuthentication } from './provider/client-authentication.ts'
import { isProviderPath, lifetimes } from './provider/provider.ts'

export const sessionCookieBaseName = 'signin-session'

/** The views are built before the provider (which renders with them), then handed here. */
export function createSigninViews(app: Express, serviceName: string): nunjucks.Environment {
  return useViews(app, import.meta.dirname, { productName: serviceName, productUrl: '/' })
}

/** Sign-in's own assets after GOV.UK Frontend's (also served by a node that is still starting). */
export function serveSigninAssets(app: Express): void {
  serveAssets(app, import.meta.dirname)
}

export function buildSigninApp(app: Express, context: SigninContext): Express {
  const { config } = context
  app.disable('x-powered-by')
  app.set('trust proxy', config.trustProxy ? 1 : false)
  app.use(securityHeaders())
  const secure = config.publicUrl.startsWith('https:')
  if (secure) app.use(requireHttps({ publicUrl: config.publicUrl, warn: (message, details) => context.log.warn(details, message) }))
  serveSigninAssets(app)

  const interaction = express.Router({ mergeParams: true })
  // The request is loaded before the CSRF check: a form sent after the request (and the
  // session holding its token) expired is told so, with the way back to the service.
  interaction.use(noStore, formBodies(), loadInteraction(context), csrfProtection)
  interaction.use(signInRoutes(context))
  interaction.use(secondFactorRoutes(context))
  interaction.use(createAccountRoutes(context))
  interaction.use('/forgotten-password', forgottenPasswordRoutes(context))
  app.use('/interaction/:uid',
    sessions({
      cookieName: sessionCookieBaseName,
      secure,
      idleTimeoutSeconds: lifetimes.interactionSeconds,
      absoluteTimeoutSeconds: lifetimes.sessionSeconds,
      store: context.store,
      clock: context.clock,
      onSaveFailed: (error) => context.log.warn({ err: error }, 'session not saved')
    }),
    interaction)

  if (config.environment !== 'production') app.use(devMailbox(context.db))
  app.get('/', noStore, (_req, res) => res.render('home.njk'))

  // Only the provider's own paths reach it; everything else gets our pages and headers.
  // The provider is the one current when the request arrives: it is rebuilt when the
  // signing keys change (ADR 9), and each one's request handler is built once.
  const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>()
  const providerHandler = (provider: Provider) => {
    let handler = handlers.get(provider)
    if (!handler) handlers.set(provider, handler = provider.callback())
    return handler
  }
  const providerOnly = express.Router()
  providerOnly.use(clientAuthentication(context))
  providerOnly.use((req, res) => providerHandler(context.provider)(req, res))
  app.use((req, res, next) => isProviderPath(req.path) ? providerOnly(req, res, next) : next())
  app.use(notFound)
  app.use(errorPages({ log: (error, req) => context.log.error({ err: error, path: req.path }, 'request failed') }))
  return app
}
