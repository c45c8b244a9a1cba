import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import type { NextFunction, Request, Response } from 'express'
import * as oidc from 'openid-client'
import { cookieFrom } from '../../src/platform/sessions.ts'

/**
 * A tiny relying party standing in for "a service" in tests of Sign-in. It deliberately
 * uses only openid-client's standard calls, so anything that works here works for any
 * standards-following service.
 */
export type TestClientOptions = { issuer: string, clientId: string, clientSecret: string, port?: number }
export type TestClient = { url: string, redirectUri: string, postLogoutRedirectUri: string, close(): Promise<void> }

type Claims = { sub: string, email?: string, given_name?: string, family_name?: string }
type Session = { state?: string, nonce?: string, verifier?: string, claims?: Claims, idToken?: string }

const cookieName = 'test-client-session'

export async function startTestClient(options: TestClientOptions): Promise<TestClient> {
  const sessions = new Map<string, Session>()
  const app = express()
  const server = createServer(app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  // localhost, not 127.0.0.1: redirect URIs must match the registered ones character for character.
  const url = `http://localhost:${(server.address() as AddressInfo).port}`
  const redirectUri = `${url}/callback`
  const postLogoutRedirectUri = `${url}/signed-out`

  // Discovered on first use, so a test may start this client (to learn its redirect URI)
  // before the provider is listening; a failed discovery is retried next time.
  let configuration: Promise<oidc.Configuration> | undefined
  function config(): Promise<oidc.Configuration> {
    configuration ??= oidc.discovery(
      new URL(options.issuer), options.clientId, undefined,
      // Given a bare secret openid-client would use client_secret_post; basic is the OpenID Connect default.
      oidc.ClientSecretBasic(options.clientSecret),
      { execute: [oidc.allowInsecureRequests] }
    ).catch((error: unknown) => {
      configuration = undefined
      throw error
    })
    return configuration
  }

  function session(req: Request, res: Response): Session {
    const id = cookieFrom(req, cookieName)
    const existing = id === undefined ? undefined : sessions.get(id)
    if (existing) return existing
    const newId = randomBytes(24).toString('base64url')
    const created: Session = {}
    sessions.set(newId, created)
    res.cookie(cookieName, newId, { httpOnly: true, sameSite: 'lax', path: '/' })
    return created
  }

  app.get('/', (req, res) => {
    const { claims } = session(req, res)
    res.send(claims
      ? page('Test service', `<p>Signed in as ${escape(claims.email ?? '')}</p>
<dl><dt>Given name</dt><dd>${escape(claims.given_name ?? '')}</dd>
<dt>Family name</dt><dd>${escape(claims.family_name ?? '')}</dd>
<dt>Subject</dt><dd>${escape(claims.sub)}</dd></dl>
<p><a href="/sign-out">Sign out</a></p>`)
      : page('Test service', '<p>You are not signed in.</p><p><a href="/sign-in">Sign in</a></p>'))
  })

  app.get('/sign-in', async (req, res) => {
    const current = session(req, res)
    current.state = oidc.randomState()
    current.nonce = oidc.randomNonce()
    current.verifier = oidc.randomPKCECodeVerifier()
    const parameters: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      state: current.state,
      nonce: current.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(current.verifier),
      code_challenge_method: 'S256'
    }
    if (typeof req.query.login_hint === 'string') parameters.login_hint = req.query.login_hint
    if (typeof req.query.acr_values === 'string') parameters.acr_values = req.query.acr_values
    res.redirect(oidc.buildAuthorizationUrl(await config(), parameters).href)
  })

  app.get('/callback', async (req, res) => {
    const current = session(req, res)
    const { state, nonce, verifier } = current
    // One authorization request, one callback: a replayed callback must fail.
    delete current.state
    delete current.nonce
    delete current.verifier
    try {
      const configuration = await config()
      const tokens = await oidc.authorizationCodeGrant(configuration, new URL(req.originalUrl, url), {
        expectedState: state, expectedNonce: nonce, pkceCodeVerifier: verifier, idTokenExpected: true
      })
      const idClaims = tokens.claims()
      if (!idClaims) throw new Error('No ID token in the token response')
      const userInfo = await oidc.fetchUserInfo(configuration, tokens.access_token, idClaims.sub)
      current.claims = { ...idClaims, ...userInfo } as Claims
      current.idToken = tokens.id_token
      res.redirect('/')
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      res.status(400).send(page('Sign-in failed', `<p>The test service could not sign you in.</p><p id="error">${escape(message)}</p>`))
    }
  })

  app.get('/sign-out', async (req, res) => {
    const current = session(req, res)
    const idToken = current.idToken
    delete current.claims
    delete current.idToken
    if (!idToken) return res.redirect('/')
    res.redirect(oidc.buildEndSessionUrl(await config(), {
      id_token_hint: idToken,
      post_logout_redirect_uri: postLogoutRedirectUri
    }).href)
  })

  app.get('/signed-out', (_req, res) => {
    res.send(page('You have signed out of the test service', '<p><a href="/">Go to the test service</a></p>'))
  })

  // Say what went wrong (for example, discovery failed) instead of Express's bare stack trace.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const message = error instanceof Error ? error.message : String(error)
    res.status(500).send(page('Test service error', `<p id="error">${escape(message)}</p>`))
  })

  return {
    url,
    redirectUri,
    postLogoutRedirectUri,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((error) => error ? reject(error) : resolve())
      // Browsers hold keep-alive connections open, which would stop close() from finishing.
      server.closeAllConnections()
    })
  }
}

function page(heading: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(heading)} – Test service</title></head>
<body><main><h1>${escape(heading)}</h1>
${body}
</main></body>
</html>`
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`)
}

