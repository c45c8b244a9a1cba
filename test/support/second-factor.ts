import { csrfFrom, type HttpResponse, type HttpSession } from './http-client.ts'
import { decodeEntities } from './signin-pages.ts'
import { appCodeAt, appRules } from '../../src/signin/accounts/authenticator-app.ts'
import type { Clock } from '../../src/platform/clock.ts'

/**
 * The second factor in HTTP tests (ADR 10): after a correct password Sign-in asks for an
 * emailed code (or the strongest factor the account has). `passSecondFactor` takes the
 * answer to the password form and, when it leads to a second-factor page, completes it
 * as the person would, returning the answer to that form: a test then carries on
 * exactly as it did before Sign-in asked for a second factor.
 */

/** Reads the newest sign-in code emailed to an address, for a Sign-in at this origin. */
export type CodeReader = (email: string) => Promise<string>

/**
 * Where codes are read for each Sign-in (by origin). Without an entry, Sign-in's own
 * development mailbox (`/dev/mailbox.json`, there in development and test) is read. A
 * Sign-in running in production (the reliability cluster) registers a reader here.
 */
export const codeReaders = new Map<string, CodeReader>()

/** The 6-digit code in the newest email to `email` in the development mailbox of the Sign-in at `origin`. */
export async function codeFromDevMailbox(origin: string, email: string): Promise<string> {
  const response = await fetch(new URL('/dev/mailbox.json', origin))
  const emails = await response.json() as Array<{ to: string, subject: string, body: string }>
  const newest = emails.find((entry) => entry.to.toLowerCase() === email.toLowerCase())
  const code = newest?.body.match(/\b(\d{6})\b/)?.[1]
  if (!code) throw new Error(`No code emailed to ${email} in ${origin}/dev/mailbox.json`)
  return code
}

export async function readSignInCode(origin: string, email: string): Promise<string> {
  const reader = codeReaders.get(origin)
  return reader ? reader(email) : codeFromDevMailbox(origin, email)
}

/** The address an "enter the code we emailed" page names. */
export function emailOnCodePage(html: string): string {
  const strong = html.match(/We've sent a code to <strong>([^<]+)<\/strong>/)?.[1]
  if (!strong) throw new Error('No address on the code page')
  return decodeEntities(strong)
}

export function isAppCodePage(page: HttpResponse): boolean {
  return page.status === 200 && /\/interaction\/[A-Za-z0-9_-]+\/authenticator-app-code$/.test(new URL(page.url).pathname)
}

/** Sends the app's current code on an "Enter the code from your authenticator app" page (not followed). */
export async function passAppCode(http: HttpSession, page: HttpResponse, secret: string): Promise<HttpResponse> {
  return http.post(page.url, { _csrf: csrfFrom(page.text), code: await nextAppCode(secret) })
}

const secondFactorPath = /\/interaction\/[A-Za-z0-9_-]+\/(email-code|authenticator-app-code)$/

/** True when `response` sends the browser to a second-factor page. */
export function asksForSecondFactor(response: HttpResponse): boolean {
  const location = response.headers.get('location')
  return response.status === 303 && location !== null && secondFactorPath.test(new URL(location, response.url).pathname)
}

/**
 * Completes the second factor when `response` (the answer to a password form) asks for
 * one; any other response is returned as it is. An account with an authenticator app
 * uses it when `appSecret` is given (the code is computed from it), and otherwise
 * chooses the emailed code, as for every other account.
 */
export async function passSecondFactor(http: HttpSession, response: HttpResponse, options: { appSecret?: string | undefined } = {}): Promise<HttpResponse> {
  if (!asksForSecondFactor(response)) return response
  let page = await http.get(new URL(response.headers.get('location')!, response.url))
  if (options.appSecret && isAppCodePage(page)) return passAppCode(http, page, options.appSecret)
  if (isAppCodePage(page)) {
    const base = page.url.replace(/\/authenticator-app-code$/, '')
    const chosen = await http.post(`${base}/choose-factor`, { _csrf: csrfFrom(page.text), factor: 'email-code' })
    if (chosen.status !== 303) throw new Error(`Choosing the emailed code failed: ${chosen.status} at ${chosen.url}`)
    page = await http.get(new URL(chosen.headers.get('location')!, chosen.url))
  }
  if (page.status !== 200) throw new Error(`Expected the code page, got ${page.status} at ${page.url}`)
  const code = await readSignInCode(new URL(page.url).origin, emailOnCodePage(page.text))
  return http.post(page.url, { _csrf: csrfFrom(page.text), code })
}

/** The step of each secret's code last taken, by the clock its Sign-in runs on (real time: `undefined`). */
const lastStepUsed = new Map<MovableClock | undefined, Map<string, number>>()

/** A clock a test can move on (FakeClock, RunningClock). */
export type MovableClock = Clock & { advanceSeconds(seconds: number): void }

/**
 * The code an authenticator app with this secret shows now. A code is accepted once, so
 * when this secret's code for the current 30-second step was already taken, the next
 * step's is wanted: with `clock` (the one the Sign-in runs on) that clock is moved on to
 * it, and nobody waits; without one (a Sign-in on the system clock) it waits for it.
 */
export async function nextAppCode(secret: string, clock?: MovableClock): Promise<string> {
  const period = appRules.periodSeconds * 1000
  const now = () => clock?.now() ?? new Date()
  const used = lastStepUsed.get(clock) ?? new Map<string, number>()
  lastStepUsed.set(clock, used)
  const last = used.get(secret) ?? -1
  if (Math.floor(now().getTime() / period) <= last) {
    const untilNextStep = (last + 1) * period - now().getTime() + 100
    if (clock) clock.advanceSeconds(untilNextStep / 1000)
    else await new Promise((resolve) => setTimeout(resolve, untilNextStep))
  }
  const at = now()
  used.set(secret, Math.floor(at.getTime() / period))
  return appCodeAt(secret, at)
}
