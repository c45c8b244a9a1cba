import type { Kysely } from 'kysely'
import type nunjucks from 'nunjucks'
import Provider, { interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { Logger } from '../../platform/logger.ts'
import { currentRequest } from '../../platform/request-scope.ts'
import { errorReference } from '../../platform/security.ts'
import { findAccountById } from '../accounts/accounts.ts'
import { acrSatisfies, supportedAcrValues } from '../accounts/factors.ts'
import type { SigninDatabase } from '../database/schema.ts'
import type { AdapterFactory } from './adapters.ts'

/**
 * The OpenID Provider: oidc-provider (OpenID Certified) with our own pages. Only the
 * authorization code flow, PKCE S256 for every client, exact redirect URIs, codes valid
 * for 60 seconds and used once, RP-initiated logout to registered URIs only.
 */
export const lifetimes = {
  authorizationCodeSeconds: 60,
  accessTokenSeconds: 3600,
  idTokenSeconds: 3600,
  /** How long an authorization request survives detours (create account, reset password...). */
  interactionSeconds: 3 * 3600,
  /** How long someone stays signed in to Sign-in itself. */
  sessionSeconds: 12 * 3600
}

/**
 * Where the provider's endpoints live (oidc-provider's defaults, spelt out): only these
 * paths, and discovery, are handed to it. Every other path gets our own GOV.UK pages
 * (a 404 with our headers), never the engine's plain-text "Not Found".
 */
export const providerRoutes = {
  authorization: '/auth',
  end_session: '/session/end',
  jwks: '/jwks',
  pushed_authorization_request: '/request',
  revocation: '/token/revocation',
  token: '/token',
  userinfo: '/me'
} as const

const discoveryPaths = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'])

/** The metrics label for a provider path: its endpoint, with `/*` for what follows (`/auth/*`). */
export function providerRouteFamily(path: string): string | undefined {
  if (discoveryPaths.has(path)) return path
  for (const route of Object.values(providerRoutes)) {
    if (path === route) return route
    if (path.startsWith(route + '/')) return route + '/*'
  }
  return undefined
}

export function isProviderPath(path: string): boolean {
  if (discoveryPaths.has(path)) return true
  return Object.values(providerRoutes).some((route) => path === route || path.startsWith(route + '/'))
}

export interface ProviderOptions {
  issuer: string
  db: Kysely<SigninDatabase>
  adapter: AdapterFactory
  jwks: Record<string, unknown>[]
  cookieKeys: string[]
  secureCookies: boolean
  trustProxy: boolean
  views: nunjucks.Environment
  serviceName: string
  log: Logger
}

function referenceOf(ctx: KoaContextWithOIDC): string {
  const state = ctx.state as { errorReference?: string }
  // The request's id (request-log.ts), as on Express' own 500 page.
  return state.errorReference ??= currentRequest()?.id ?? errorReference()
}

export function cookieNames(secure: boolean) {
  // __Host- needs Path=/, which the interaction cookies (scoped to their URL) do not have.
  return secure
    ? { session: '__Host-signin-op-session', interaction: '__Secure-signin-interaction', resume: '__Secure-signin-resume' }
    : { session: 'signin-op-session', interaction: 'signin-interaction', resume: 'signin-resume' }
}

/**
 * The provider's own policy, plus one check: a service that sends `acr_values` stronger
 * than what the person's session proved gets an interaction, where they are asked for
 * what is missing (ADR 10). Without it, `acr_values` would be only a wish.
 */
function interactionsPolicy() {
  const { Check } = interactionPolicy
  const policy = interactionPolicy.base()
  policy.get('login')!.checks.add(new Check('acr_values_not_met', 'the session does not meet the requested acr_values', (ctx) => {
    const requested = ctx.oidc.params?.acr_values
    if (typeof requested !== 'string' || !ctx.oidc.session?.accountId) return Check.NO_NEED_TO_PROMPT
    return acrSatisfies(ctx.oidc.session.acr, requested.split(' ')) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT
  }))
  return policy
}

export function createProvider(options: ProviderOptions): Provider {
  const { db, views } = options
  const render = (ctx: KoaContextWithOIDC, template: string, context: Record<string, unknown>) => {
    ctx.type = 'html'
    ctx.set('Cache-Control', 'no-store')
    ctx.body = views.render(template, { cspNonce: (ctx.res as unknown as { locals?: { cspNonce?: string } }).locals?.cspNonce, productName: options.serviceName, ...context })
  }

  const issuerIsLocal = new URL(options.issuer).hostname === 'localhost'
  const configuration: Configuration = {
    adapter: options.adapter,
    jwks: { keys: options.jwks as never },
    cookies: {
      keys: options.cookieKeys,
      names: cookieNames(options.secureCookies),
      long: { httpOnly: true, sameSite: 'lax', secure: options.secureCookies },
      short: { httpOnly: true, sameSite: 'lax', secure: options.secureCookies }
    },
    // acr and amr (ADR 10) are in the ID token, and in userinfo with the openid scope.
    acrValues: supportedAcrValues,
    claims: {
      acr: null,
      amr: null,
      openid: ['sub', 'acr', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['given_name', 'family_name']
    },
    scopes: ['openid', 'email', 'profile'],
    routes: providerRoutes,
    responseTypes: ['code'],
    // oidc-provider refuses to call loopback and private addresses (SSRF protection) for
    // back-channel logout and JWKS URIs. A Sign-in that itself runs on localhost
    // (development, tests) may call services on localhost; any other keeps the protection.
    fetch: (url, init) => {
      if (!issuerIsLocal || typeof url !== 'string' || new URL(url).hostname !== 'localhost') return globalThis.fetch(url, init)
      const { dispatcher: _protected, ...rest } = init as RequestInit & { dispatcher?: unknown }
      return globalThis.fetch(url, rest)
    },
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256'],
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256']
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          render(ctx, 'provider/sign-out.njk', { form, clientName: ctx.oidc.client?.clientName })
        },
        async postLogoutSuccessSource(ctx) {
          render(ctx, 'provider/signed-out.njk', { clientName: ctx.oidc.client?.clientName })
        }
      },
      // Services registered with a back-channel logout URI are told when a person signs out here.
      backchannelLogout: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true }
    },
    interactions: {
      policy: interactionsPolicy(),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`
    },
    // The access token keeps the acr and amr of the sign-in it came from, for userinfo.
    async extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken') return undefined
      const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken
      if (!source?.acr) return undefined
      return { acr: source.acr, amr: source.amr }
    },
    async findAccount(_ctx, sub, token) {
      const account = await findAccountById(db, sub)
      if (!account) return undefined
      const extra = (token as { extra?: { acr?: string, amr?: string[] } } | undefined)?.extra
      return {
        accountId: account.id,
        async claims() {
          return {
            sub: account.id,
            ...(extra?.acr ? { acr: extra.acr, amr: extra.amr } : {}),
            email: account.email,
            // Every account's address was confirmed with an emailed code before it existed.
            email_verified: true,
            given_name: account.given_name,
            family_name: account.family_name
          }
        }
      }
    },
    // Services registered here are the department's own: signing in is consent enough,
    // so the grant covers what the service asked for and no consent page is shown.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx
      if (!oidc.session?.accountId || !oidc.client) return undefined
      const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId)
      const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined
      const grant = existing ?? new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId })
      const requested = String(oidc.params?.scope ?? 'openid').split(' ').filter((s) => ['openid', 'email', 'profile'].includes(s))
      grant.addOIDCScope(requested.join(' '))
      await grant.save()
      return grant
    },
    ttl: {
      AuthorizationCode: lifetimes.authorizationCodeSeconds,
      AccessToken: lifetimes.accessTokenSeconds,
      IdToken: lifetimes.idTokenSeconds,
      Interaction: lifetimes.interactionSeconds,
      Session: lifetimes.sessionSeconds,
      Grant: lifetimes.sessionSeconds
    },
    allowOmittingSingleRegisteredRedirectUri: false,
    // Services read who signed in from the ID token itself (email and names included).
    conformIdTokenClaims: false,
    async renderError(ctx, out) {
      // A fault of ours gets the 500 page with a reference, which server_error below logs.
      if (out.error === 'server_error') {
        const reference = referenceOf(ctx)
        render(ctx, 'errors/server-error.njk', { reference })
        return
      }
      render(ctx, 'provider/error.njk', { error: out.error, description: out.error_description })
    }
  }

  const provider = new Provider(options.issuer, configuration)
  provider.proxy = options.trustProxy
  provider.on('server_error', (ctx: KoaContextWithOIDC, error) => {
    const reference = referenceOf(ctx)
    options.log.error({ err: error, requestId: reference, path: ctx.path, reference }, 'provider error')
  })
  // A service that could not be told of a sign-out keeps its session until it times out: worth knowing.
  provider.on('backchannel.error', (_ctx, error, client) => options.log.warn({ err: error, clientId: client.clientId }, 'back-channel logout not delivered'))
  // A path under the provider's routes that none of them answers (say /token/nope) would get
  // Koa's plain-text "Not Found": it gets the GOV.UK page instead.
  provider.use(async (ctx, next) => {
    await next()
    if (ctx.status === 404 && ctx.body === undefined) {
      render(ctx as KoaContextWithOIDC, 'errors/not-found.njk', {})
      ctx.status = 404
    }
  })
  return provider
}
