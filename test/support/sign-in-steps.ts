import type { Page } from 'playwright-core'
import { csrfFrom, type HttpResponse, type HttpSession } from './http-client.ts'
import { passSecondFactor } from './second-factor.ts'

/**
 * Signing in to Placements one hop at a time, for tests that need to act between hops
 * (stop a database just before the callback, send a SIGTERM while a password is being
 * checked). `signInToPlacements` (placements-flow.ts) does the whole thing in one go.
 */

/** Placements' sign-in link, through to Sign-in's page with the password form. */
export async function openSigninPage(http: HttpSession, placementsUrl: string): Promise<HttpResponse> {
  const page = await http.follow(await http.get(new URL('/sign-in', placementsUrl)))
  if (page.status !== 200 || !/name="password"/.test(page.text)) throw new Error(`Expected Sign-in's password page, got ${page.status} at ${page.url}`)
  return page
}

/** Sends the sign-in form on `page` (not following the answer). */
export function submitPassword(http: HttpSession, page: HttpResponse, email: string, password: string): Promise<HttpResponse> {
  return http.post(page.url, { _csrf: csrfFrom(page.text), email, password })
}

/** Sends the sign-in form on `page`, then the emailed code it asks for: the answer to the code (not followed). */
export async function submitPasswordAndCode(http: HttpSession, page: HttpResponse, email: string, password: string): Promise<HttpResponse> {
  return passSecondFactor(http, await submitPassword(http, page, email, password))
}

/**
 * Follows redirects until the next one would go to a URL matching `stop`, and returns that
 * URL without requesting it (the browser is "on its way" there).
 */
export async function followUntil(http: HttpSession, response: HttpResponse, stop: (url: URL) => boolean): Promise<URL> {
  let current = response
  for (let hop = 0; hop < 10; hop++) {
    const location = current.headers.get('location')
    if (current.status < 300 || current.status >= 400 || !location) {
      throw new Error(`Expected a redirect, got ${current.status} at ${current.url}: ${current.text.slice(0, 300)}`)
    }
    const next = new URL(location, current.url)
    if (stop(next)) return next
    current = await http.get(next)
  }
  throw new Error('More than 10 redirects')
}

/** The URL of Placements' callback (with the code), reached after a successful password and second factor. */
export function isPlacementsCallback(placementsUrl: string): (url: URL) => boolean {
  return (url) => url.origin === new URL(placementsUrl).origin && url.pathname === '/auth/callback'
}

/** The time a request took to be answered in full, with its answer (or the error it failed with). */
export async function timed(request: () => Promise<HttpResponse>): Promise<{ ms: number, response?: HttpResponse, error?: Error }> {
  const started = performance.now()
  try {
    const response = await request()
    return { ms: performance.now() - started, response }
  } catch (error) {
    return { ms: performance.now() - started, error: error as Error }
  }
}

/**
 * The same in a browser, for every browser test and `npm run screenshots`: on Sign-in's
 * sign-in page, the email address and password, then the code for the second factor Sign-in
 * asks for. `code` is called once that page has loaded (it may check the page first): an
 * emailed code from the outbox or the development mailbox, or an authenticator app's. Ends
 * wherever Sign-in sends the person next (back to the service, signed in, when all went well).
 */
export async function signInInBrowser(page: Page, who: { email: string, password: string }, code: () => Promise<string>): Promise<void> {
  await page.locator('#email').fill(who.email)
  await page.locator('#password').fill(who.password)
  await pressAndWait(page, 'Sign in')
  await page.locator('#code').fill(await code())
  await pressAndWait(page, 'Continue')
}

async function pressAndWait(page: Page, name: string): Promise<void> {
  const navigated = page.waitForNavigation({ waitUntil: 'load' })
  await page.getByRole('button', { name, exact: true }).click()
  await navigated
}
