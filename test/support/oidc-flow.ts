import * as oidc from 'openid-client'
import type { HttpSession} from './http-client.ts';
import { csrfFrom, type HttpResponse } from './http-client.ts'

/**
 * The relying party's half of the code flow, done with openid-client (a certified RP),
 * so HTTP tests drive Sign-in exactly as a real service would.
 */
export interface Flow {
  config: oidc.Configuration
  authorizationUrl: URL
  verifier: string
  state: string
  nonce: string
  redirectUri: string
}

export async function discover(issuer: string, clientId: string, secret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientId, secret, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] })
}

export async function beginFlow(config: oidc.Configuration, redirectUri: string, extra: Record<string, string> = {}): Promise<Flow> {
  const verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const authorizationUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra
  })
  return { config, authorizationUrl, verifier, state, nonce, redirectUri }
}

/** Follows redirects until the browser would leave Sign-in for the service's redirect URI. */
export async function followToCallbackOrPage(http: HttpSession, response: HttpResponse, redirectUri: string): Promise<HttpResponse> {
  let current = response
  for (let hop = 0; hop < 10 && current.status >= 300 && current.status < 400; hop++) {
    const location = new URL(current.headers.get('location')!, current.url)
    if (location.href.startsWith(redirectUri)) return { ...current, url: location.href }
    current = await http.get(location)
  }
  return current
}

export async function finishFlow(flow: Flow, callbackUrl: string) {
  return oidc.authorizationCodeGrant(flow.config, new URL(callbackUrl), {
    pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce
  })
}

/** Opens the authorization URL and returns the Sign-in page it lands on. */
export async function openSignIn(http: HttpSession, flow: Flow): Promise<HttpResponse> {
  return followToCallbackOrPage(http, await http.get(flow.authorizationUrl), flow.redirectUri)
}

/** Submits the first form on `page` with the given fields (and its CSRF token). */
export async function submit(http: HttpSession, page: HttpResponse, action: string, fields: Record<string, string>): Promise<HttpResponse> {
  return http.post(new URL(action, page.url), { _csrf: csrfFrom(page.text), ...fields })
}
