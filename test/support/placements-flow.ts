import { demoPassword } from '../../src/demo/personas.ts'
import { csrfFrom, type HttpResponse, type HttpSession } from './http-client.ts'

/**
 * Signs a person in to Placements over HTTP as a browser would: Placements' sign-in
 * link, Sign-in's form, back through the callback. Returns the page they land on.
 */
export async function signInToPlacements(http: HttpSession, placementsUrl: string, email: string, options: { password?: string, path?: string } = {}): Promise<HttpResponse> {
  let page = await http.follow(await http.get(new URL(options.path ?? '/sign-in', placementsUrl)))
  if (/name="password"/.test(page.text)) {
    const signinPage = page
    page = await http.follow(await http.post(signinPage.url, { _csrf: csrfFrom(signinPage.text), email, password: options.password ?? demoPassword }))
  }
  return page
}
