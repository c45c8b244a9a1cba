import { demoAppPersonaEmail, demoAppSecret, demoPassword } from '../../src/demo/personas.ts'
import { csrfFrom, type HttpResponse, type HttpSession } from './http-client.ts'
import { passSecondFactor } from './second-factor.ts'

/**
 * Signs a person in to Placements over HTTP as a browser would: Placements' sign-in
 * link, Sign-in's form, the emailed code, back through the callback. Returns the page they land on.
 */
export async function signInToPlacements(http: HttpSession, placementsUrl: string, email: string, options: { password?: string, path?: string, useEmail?: boolean } = {}): Promise<HttpResponse> {
  // The support persona signs in with its authenticator app (development-only key), unless told to choose the emailed code.
  const appSecret = email === demoAppPersonaEmail && !options.useEmail ? demoAppSecret : undefined
  let page = await http.follow(await http.get(new URL(options.path ?? '/sign-in', placementsUrl)))
  if (/name="password"/.test(page.text)) {
    const signinPage = page
    const answer = await http.post(signinPage.url, { _csrf: csrfFrom(signinPage.text), email, password: options.password ?? demoPassword })
    page = await http.follow(await passSecondFactor(http, answer, { appSecret }))
  }
  return page
}
