import assert from 'node:assert/strict'
import type * as oidc from 'openid-client'
import { csrfFrom, HttpSession, type HttpResponse } from './http-client.ts'
import { followToCallbackOrPage, submit } from './oidc-flow.ts'
import { passSecondFactor } from './second-factor.ts'
import type { TestSignin } from './signin.ts'
import { startJourney } from './signin-pages.ts'

/**
 * "Your account" in HTTP tests: a browser signed in at Sign-in (through a test service,
 * password and emailed code), and signing in again there before a change.
 */
export async function signedInBrowser(config: oidc.Configuration, redirectUri: string, who: { email: string, password: string }): Promise<HttpSession> {
  const http = new HttpSession()
  const { page } = await startJourney(http, config, redirectUri)
  const answer = await passSecondFactor(http, await submit(http, page, page.url, who))
  const callback = await followToCallbackOrPage(http, answer, redirectUri)
  assert.ok(callback.url.startsWith(`${redirectUri}?`), `ended at ${callback.url} (${callback.status})`)
  return http
}

/** The 6-digit code in the newest email Sign-in queued for `email`. */
export async function emailedCode(signin: TestSignin, email: string): Promise<string> {
  const code = (await signin.latestEmail(email))?.body.match(/\b(\d{6})\b/)?.[1]
  assert.ok(code, `no code emailed to ${email}`)
  return code
}

/**
 * From the "sign in again" page (`page`): the password, then the second factor the page
 * after it asks for (an app code from `appCode`, or the emailed code). Returns the answer
 * to the last form (a 303 back to the change page, when all went well).
 */
export async function signInAgain(http: HttpSession, signin: TestSignin, page: HttpResponse, who: { email: string, password: string }, appCode?: () => string): Promise<HttpResponse> {
  const answer = await http.post(`${signin.url}/account/sign-in-again`, { _csrf: csrfFrom(page.text), password: who.password })
  assert.equal(answer.status, 303, `password answered ${answer.status}`)
  const factorPage = await http.get(new URL(answer.headers.get('location')!, signin.url))
  const code = factorPage.url.endsWith('/authenticator-app-code') ? appCode!() : await emailedCode(signin, who.email)
  return http.post(factorPage.url, { _csrf: csrfFrom(factorPage.text), code })
}
