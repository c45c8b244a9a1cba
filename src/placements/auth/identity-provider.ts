import * as oidc from 'openid-client'
import { isOutage } from '../../platform/outages.ts'
import type { IdentityProviderConfig } from '../config.ts'

/**
 * The OpenID Provider, found by discovery from its issuer URL. Nothing here knows
 * whether it is our Sign-in or the real DfE Sign-in. Discovery happens on first use
 * and is retried on failure, so Placements starts even while the provider is down.
 */
export class IdentityProvider {
  readonly #settings: IdentityProviderConfig
  #configuration: Promise<oidc.Configuration> | undefined

  constructor(settings: IdentityProviderConfig) {
    this.#settings = settings
  }

  get displayName(): string { return this.#settings.displayName }

  configuration(): Promise<oidc.Configuration> {
    this.#configuration ??= this.#discover().catch((error: unknown) => {
      this.#configuration = undefined
      throw error
    })
    return this.#configuration
  }

  /**
   * Beyond what openid-client checks by default (issuer, audience, expiry, nonce, PKCE):
   * the ID token must be signed with the one configured algorithm, and its signature is
   * verified against the issuer's JWKS (cached; fetched again when a token names a key it
   * has not seen). openid-client skips that for tokens from the token endpoint, trusting
   * TLS; checking anyway refuses forged or unsigned tokens from a compromised or
   * misconfigured issuer, and catches provider nodes that disagree on their keys.
   */
  async #discover(): Promise<oidc.Configuration> {
    const s = this.#settings
    const execute = [oidc.enableNonRepudiationChecks, ...(s.allowInsecure ? [oidc.allowInsecureRequests] : [])]
    const metadata: Partial<oidc.ClientMetadata> = { client_id: s.clientId, id_token_signed_response_alg: s.idTokenSigningAlg }
    if (s.privateKeyJwk) {
      const jwk = JSON.parse(s.privateKeyJwk) as JsonWebKey & { kid?: string, alg?: string }
      const key = await crypto.subtle.importKey('jwk', jwk, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign'])
      return oidc.discovery(new URL(s.issuerUrl), s.clientId, metadata, oidc.PrivateKeyJwt({ key, kid: jwk.kid }), { execute })
    }
    if (!s.clientSecret) throw new Error('Set OIDC_CLIENT_SECRET or OIDC_PRIVATE_KEY_JWK')
    return oidc.discovery(new URL(s.issuerUrl), s.clientId, { ...metadata, client_secret: s.clientSecret }, oidc.ClientSecretBasic(s.clientSecret), { execute })
  }
}

export interface PendingAuthorization {
  verifier: string
  nonce: string
  returnTo: string | undefined
  /** Set once the code has been exchanged, until the sign-in is recorded (see the callback). */
  verified?: { claims: Record<string, unknown>, idToken: string }
}

/**
 * `reauthenticate`: the provider must ask for the password again even if it has a session (prompt=login).
 * `acr`: the authentication context to ask for (`acr_values`); the provider asks for whatever is missing.
 */
export async function authorizationRequest(provider: IdentityProvider, redirectUri: string, loginHint: string | undefined, options: { reauthenticate?: boolean, acr?: string | undefined } = {}) {
  const config = await provider.configuration()
  const verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(loginHint ? { login_hint: loginHint } : {}),
    ...(options.reauthenticate ? { prompt: 'login' } : {}),
    ...(options.acr ? { acr_values: options.acr } : {})
  })
  return { url, state, verifier, nonce }
}

export async function completeAuthorization(provider: IdentityProvider, callbackUrl: URL, state: string, pending: PendingAuthorization) {
  const config = await provider.configuration()
  const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: pending.verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true
  })
  const idTokenClaims = tokens.claims()
  if (!idTokenClaims) throw new Error('No ID token')
  // Many providers (DfE Sign-in among them) put only `sub` in the ID token and the rest
  // behind userinfo; userinfo's `sub` is checked against the ID token's.
  let claims: Record<string, unknown> = idTokenClaims
  if (typeof idTokenClaims.email !== 'string' && config.serverMetadata().userinfo_endpoint) {
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idTokenClaims.sub)
    claims = { ...userinfo, ...idTokenClaims, email: userinfo.email, email_verified: userinfo.email_verified, given_name: userinfo.given_name, family_name: userinfo.family_name }
  }
  return { claims, idToken: tokens.id_token! }
}

/** `state` comes back on the post-logout redirect: some providers only redirect back when it is there. */
export async function endSessionUrl(provider: IdentityProvider, idToken: string | undefined, postLogoutRedirectUri: string, state: string): Promise<string | undefined> {
  const config = await provider.configuration()
  if (!config.serverMetadata().end_session_endpoint) return undefined
  return oidc.buildEndSessionUrl(config, {
    post_logout_redirect_uri: postLogoutRedirectUri,
    state,
    ...(idToken ? { id_token_hint: idToken } : { client_id: config.clientMetadata().client_id })
  }).href
}

/**
 * The provider could not be reached, or answered with a server error (it is down, or its
 * own store is): nothing was decided, and the same request may succeed in a moment.
 */
export function providerUnavailable(error: unknown): boolean {
  if (isOutage(error)) return true
  const status = (error as { status?: unknown }).status ?? ((error as { cause?: unknown }).cause instanceof Response ? ((error as { cause: Response }).cause.status) : undefined)
  return typeof status === 'number' && status >= 500
}
