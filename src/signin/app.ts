import express, { type Express } from 'express'
import type nunjucks from 'nunjucks'
import { devMailbox } from '../platform/dev-mailbox.ts'
import { csrfProtection, errorPages, formBodies, noStore, notFound, securityHeaders } from '../platform/security.ts'
import { sessions } from '../platform/sessions.ts'
import { useViews } from '../platform/views.ts'
import type { SigninContext } from './context.ts'
import { createAccountRoutes } from './journeys/create-account/routes.ts'
import { forgottenPasswordRoutes } from './journeys/forgotten-password/routes.ts'
import { loadInteraction } from './journeys/journey.ts'
import { signInRoutes } from './journeys/sign-in/routes.ts'
import { presentedSecretsAsDigests } from './provider/clients.ts'
import { lifetimes } from './provider/provider.ts'

export const sessionCookieBaseName = 'signin-session'

/** The views are built before the provider (which renders with them), then handed here. */
export function createSigninViews(app: Express, serviceName: string): nunjucks.Environment {
  return useViews(app, import.meta.dirname, { productName: serviceName, productUrl: '/' })
}

export function buildSigninApp(app: Express, context: SigninContext): Express {
  const { config } = context
  app.disable('x-powered-by')
  app.set('trust proxy', config.trustProxy ? 1 : false)
  app.use(securityHeaders())

  const secure = config.publicUrl.startsWith('https:')
  const interaction = express.Router({ mergeParams: true })
  // The request is loaded before the CSRF check: a form sent after the request (and the
  // session holding its token) expired is told so, with the way back to the service.
  interaction.use(noStore, formBodies(), loadInteraction(context), csrfProtection)
  interaction.use(signInRoutes(context))
  interaction.use(createAccountRoutes(context))
  interaction.use('/forgotten-password', forgottenPasswordRoutes(context))
  app.use('/interaction/:uid',
    sessions({
      cookieName: sessionCookieBaseName,
      secure,
      idleTimeoutSeconds: lifetimes.interactionSeconds,
      absoluteTimeoutSeconds: lifetimes.sessionSeconds,
      store: context.store,
      clock: context.clock
    }),
    interaction)

  if (config.environment !== 'production') app.use(devMailbox(context.db))
  app.get('/', noStore, (_req, res) => res.render('home.njk'))

  // Client secrets are stored as digests: the presented one is digested before the provider compares.
  const clientAuthenticated = ['/token', '/token/revocation', '/token/introspection']
  app.post(clientAuthenticated, express.urlencoded({ extended: false, limit: '64kb' }), presentedSecretsAsDigests)

  app.use(context.provider.callback())
  app.use(notFound)
  app.use(errorPages({ log: (error, req) => context.log.error({ err: error, path: req.path }, 'request failed') }))
  return app
}
