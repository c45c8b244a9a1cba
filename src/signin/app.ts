import path from 'node:path'
import { fileURLToPath } from 'node:url'
import express, { type Express } from 'express'
import type nunjucks from 'nunjucks'
import type Provider from 'oidc-provider'
import { devMailbox } from '../platform/dev-mailbox.ts'
import { countStoreError } from '../platform/metrics.ts'
import { isOutage } from '../platform/outages.ts'
import { feedbackRoutes } from '../platform/feedback.ts'
import { csrfProtection, errorPages, formBodies, noStore, notFound, requireHttps, securityHeaders } from '../platform/security.ts'
import { serviceGlobals, servicePageRoutes, inWords, whenBrowserCloses, type CookieUse } from '../platform/service-pages.ts'
import { sessionCookieName, sessions } from '../platform/sessions.ts'
import { serveAssets, useViews } from '../platform/views.ts'
import type { SigninContext } from './context.ts'
import { createAccountRoutes } from './journeys/create-account/routes.ts'
import { forgottenPasswordRoutes } from './journeys/forgotten-password/routes.ts'
import { loadInteraction } from './journeys/journey.ts'
import { passkeyJourneyRoutes } from './journeys/passkeys/routes.ts'
import { secondFactorRoutes } from './journeys/second-factor/routes.ts'
import { signInRoutes } from './journeys/sign-in/routes.ts'
import { clientAuthentication } from './provider/client-authentication.ts'
import { yourAccountRoutes } from './your-account/routes.ts'
import { readSignedIn } from './your-account/signed-in.ts'
import type { SigninConfig } from './config.ts'
import { cookieNames, isProviderPath, lifetimes } from './provider/provider.ts'

export const sessionCookieBaseName = 'signin-session'

/** The views are built before the provider (which renders with them), then handed here. */
export function createSigninViews(app: Express, config: Pick<SigninConfig, 'serviceName' | 'info'>): nunjucks.Environment {
  return useViews(app, import.meta.dirname, { productName: config.serviceName, productUrl: '/', serviceLayout: 'layout.njk', ...serviceGlobals(config.info) })
}

/**
 * Every cookie Sign-in sets, from the names and lifetimes the code gives them: the cookies
 * page lists exactly these (a test signs in and compares). oidc-provider signs its cookies,
 * so each has a `.sig` companion.
 */
export function signinCookies(secure: boolean, serviceName: string): CookieUse[] {
  const provider = cookieNames(secure)
  const signed = (name: string, purpose: string, seconds: number): CookieUse[] => [
    { name, purpose, expires: inWords(seconds) },
    { name: `${name}.sig`, purpose: `Checks that the ${name} cookie has not been changed`, expires: inWords(seconds) }
  ]
  return [
    { name: sessionCookieName(sessionCookieBaseName, secure), purpose: 'Remembers your progress while you sign in, create an account or reset your password, and protects forms from misuse', expires: whenBrowserCloses },
    ...signed(provider.session, `Keeps you signed in to ${serviceName}, so services you use can let you in without asking for your password again`, lifetimes.sessionSeconds),
    ...signed(provider.interaction, 'Links your sign-in to the service that sent you here', lifetimes.interactionSeconds),
    ...signed(provider.resume, 'Takes you back to the service once you have signed in', lifetimes.interactionSeconds)
  ]
}

/** SimpleWebAuthn's browser bundle (a UMD file that sets `window.SimpleWebAuthnBrowser`), served as our own asset. */
const webAuthnBrowserBundle = path.join(path.dirname(fileURLToPath(import.meta.resolve('@simplewebauthn/browser'))), '../dist/bundle/index.umd.min.js')

/** Sign-in's own assets after GOV.UK Frontend's (also served by a node that is still starting). */
export function serveSigninAssets(app: Express): void {
  serveAssets(app, import.meta.dirname)
  app.get('/assets/simplewebauthn-browser.js', (_req, res) => res.sendFile(webAuthnBrowserBundle, { maxAge: '1d' }))
}

export function buildSigninApp(app: Express, context: SigninContext): Express {
  const { config } = context
  app.disable('x-powered-by')
  app.set('trust proxy', config.trustProxy ? 1 : false)
  app.use(securityHeaders())
  const secure = config.publicUrl.startsWith('https:')
  if (secure) app.use(requireHttps({ publicUrl: config.publicUrl, warn: (message, details) => context.log.warn(details, message) }))
  serveSigninAssets(app)
  // Who is signed in here, for the header's "Your account" link on every page of ours.
  app.use(readSignedIn(context))

  const interaction = express.Router({ mergeParams: true })
  // The request is loaded before the CSRF check: a form sent after the request (and the
  // session holding its token) expired is told so, with the way back to the service.
  interaction.use(noStore, formBodies(), loadInteraction(context), csrfProtection)
  interaction.use(signInRoutes(context))
  interaction.use(secondFactorRoutes(context))
  interaction.use(passkeyJourneyRoutes(context))
  interaction.use(createAccountRoutes(context))
  interaction.use('/forgotten-password', forgottenPasswordRoutes(context))
  const webSessions = sessions({
    cookieName: sessionCookieBaseName,
    secure,
    idleTimeoutSeconds: lifetimes.interactionSeconds,
    absoluteTimeoutSeconds: lifetimes.sessionSeconds,
    store: context.store,
    clock: context.clock,
    onSaveFailed: (error) => {
      if (isOutage(error)) countStoreError('session-save')
      context.log.warn({ err: error }, 'session not saved')
    }
  })
  app.use('/interaction/:uid', webSessions, interaction)

  // Help, cookies, accessibility, privacy and terms; the feedback form keeps its CSRF token in the same session.
  app.use(servicePageRoutes({
    cookies: signinCookies(secure, config.serviceName),
    description: 'When you create an account we collect your name, your email address and a password, which we store in a form that cannot be turned back into the password.'
  }))
  app.use('/feedback', noStore, webSessions, formBodies(), csrfProtection)
  app.use(feedbackRoutes(context))
  app.use('/account', noStore, webSessions, formBodies(), csrfProtection, yourAccountRoutes(context))

  if (config.environment !== 'production') app.use(devMailbox(context.db))
  app.get('/', noStore, (req, res) => res.render('home.njk', { signedIn: req.signedIn !== undefined }))

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
  app.use(errorPages({ log: (error, req, reference) => context.log.error({ err: error, requestId: reference, path: req.path, reference }, 'request failed') }))
  return app
}
