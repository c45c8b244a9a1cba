import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, mock, test } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { csrfFrom, HttpSession, type HttpResponse } from '../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../test/support/placements.ts'
import { signInToPlacements } from '../../test/support/placements-flow.ts'
import { errorSummary, fieldError, pageTitle, visibleText } from '../../test/support/signin-pages.ts'
import { placementsCookies, usePlacementsViews } from '../placements/app.ts'
import { readPlacementsConfig } from '../placements/config.ts'
import { IdentityProvider } from '../placements/auth/identity-provider.ts'
import { signinCookies } from '../signin/app.ts'
import { feedbackLimits, type FeedbackTable } from './feedback.ts'
import { startingApp } from './runtime.ts'
import { readServiceInfo, requireSupportEmail } from './service-info.ts'
import { footerLinks, inWords, whenBrowserCloses } from './service-pages.ts'

// Issue 8: from any page of either service a person can find help, the cookies page, the
// accessibility statement and the privacy notice; unknown paths, faults and outages get
// GOV.UK pages that say how to get help; the feedback form stores what people say.
let services: TestServices
before(async () => {
  services = await startTestServices()
})
after(() => services.close())

const supportEmails = { signin: 'signin-support@example.com', placements: 'placements-support@example.com' }

function urlOf(service: 'signin' | 'placements', path: string): string {
  return `${services[service].url}${path}`
}

function feedbackTable(service: 'signin' | 'placements'): Kysely<FeedbackTable> {
  return services[service].context.db as unknown as Kysely<FeedbackTable>
}

function expectChrome(page: HttpResponse, service: 'signin' | 'placements', what: string) {
  for (const link of footerLinks) {
    assert.ok(page.text.includes(`<a class="govuk-footer__link" href="${link.href}">`), `${what}: footer links to ${link.text}`)
  }
  assert.match(page.text, /class="govuk-phase-banner[\s\S]*<strong class="govuk-tag govuk-phase-banner__content__tag">\s*Beta\s*<\/strong>[\s\S]*href="\/feedback"/, `${what}: the beta banner links to the feedback form`)
  assert.match(visibleText(page.text), new RegExp(`Get help Email ${supportEmails[service].replace('.', '\\.')} We aim to respond within 2 working days\\.`), `${what}: the footer's Get help`)
}

function expectSupportEmail(page: HttpResponse, service: 'signin' | 'placements', what: string) {
  const main = page.text.match(/<main[\s\S]*<\/main>/)?.[0] ?? ''
  assert.ok(main.includes(`href="mailto:${supportEmails[service]}"`), `${what}: the support address in the page itself`)
}

test('every page of both services has the footer links, Get help and the beta banner, and each footer page answers', async () => {
  const pages: Array<['signin' | 'placements', string, string]> = [
    ['signin', '/', 'DfE Sign-in'], ['placements', '/', 'Sign in to Manage school placements'],
    ['signin', '/help', 'Get help with DfE Sign-in'], ['placements', '/help', 'Get help with Manage school placements'],
    ['signin', '/cookies', 'Cookies'], ['placements', '/cookies', 'Cookies'],
    ['signin', '/accessibility-statement', 'Accessibility statement for DfE Sign-in'], ['placements', '/accessibility-statement', 'Accessibility statement for Manage school placements'],
    ['signin', '/privacy-notice', 'Privacy notice'], ['placements', '/privacy-notice', 'Privacy notice'],
    ['signin', '/terms-of-use', 'Terms of use'], ['placements', '/terms-of-use', 'Terms of use'],
    ['signin', '/feedback', 'Give feedback on DfE Sign-in'], ['placements', '/feedback', 'Give feedback on Manage school placements']
  ]
  const client = new HttpSession()
  for (const [service, path, heading] of pages) {
    const page = await client.get(urlOf(service, path))
    assert.equal(page.status, 200, `${service} ${path}`)
    assert.equal(page.headers.get('cache-control'), 'no-store', `${service} ${path}`)
    assert.match(page.text, new RegExp(`<h1 class="govuk-heading-(l|xl)">${heading}</h1>`), `${service} ${path}`)
    expectChrome(page, service, `${service} ${path}`)
  }
  // The pages that promise help give the address in the page itself.
  for (const [service, path] of [['signin', '/'], ['placements', '/'], ['signin', '/help'], ['placements', '/help'], ['placements', '/accessibility-statement']] as const) {
    expectSupportEmail(await client.get(urlOf(service, path)), service, `${service} ${path}`)
  }
  const privacy = await client.get(urlOf('placements', '/privacy-notice'))
  assert.match(visibleText(privacy.text), /The Department for Education is the data controller/)
  assert.match(privacy.text, /mailto:dataprotection@education\.gov\.uk/)
})

/** Records every cookie name each origin sets, including ones set and cleared again at once. */
class RecordingSession extends HttpSession {
  readonly set = new Map<string, Map<string, number | undefined>>()
  override async request(method: string, url: string | URL, body?: URLSearchParams, headers: Record<string, string> = {}): Promise<HttpResponse> {
    const response = await super.request(method, url, body, headers)
    const origin = new URL(url).origin
    const names = this.set.get(origin) ?? new Map<string, number | undefined>()
    this.set.set(origin, names)
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';')
      const name = pair.slice(0, pair.indexOf('=')).trim()
      const expires = attributes.map((a) => a.trim()).find((a) => /^expires=/i.test(a))
      const seconds = expires ? Math.round((Date.parse(expires.slice(8)) - Date.now()) / 60_000) * 60 : undefined
      // A cookie cleared (expiry in the past) says nothing about its lifetime.
      if (seconds === undefined || seconds > 0) names.set(name, seconds)
      else if (!names.has(name)) names.set(name, undefined)
    }
    return response
  }
}

/** The cookies page as listed: name → expiry in words. */
function cookiesListed(html: string): Map<string, string> {
  const listed = new Map<string, string>()
  for (const card of html.split('class="govuk-summary-card"').slice(1)) {
    const name = visibleText(card.match(/app-cookie-name">([\s\S]*?)<\/h3>/)?.[1] ?? '')
    const expires = visibleText(card.match(/Expires\s*<\/dt>\s*<dd class="govuk-summary-list__value">([\s\S]*?)<\/dd>/)?.[1] ?? '')
    listed.set(name, expires)
  }
  return listed
}

test('the cookies pages list exactly the cookies each service sets in a sign-in, with their real lifetimes', async () => {
  const client = new RecordingSession()
  const landed = await signInToPlacements(client, services.placements.url, 'anne.wilson@example.com')
  assert.match(landed.url, /\/organisations\//, 'signed in')
  for (const service of ['signin', 'placements'] as const) {
    const set = client.set.get(new URL(services[service].url).origin)!
    const listed = cookiesListed((await new HttpSession().get(urlOf(service, '/cookies'))).text)
    assert.deepEqual([...set.keys()].sort(), [...listed.keys()].sort(), `${service}: the page lists what the code sets, no more and no less`)
    for (const [name, seconds] of set) {
      assert.equal(listed.get(name), seconds === undefined ? whenBrowserCloses : inWords(seconds), `${service}: ${name}'s expiry`)
    }
  }
})

test('the cookie lists follow the code: https names, and the idle timeout in the purpose', () => {
  const secure = signinCookies(true, 'DfE Sign-in').map((c) => c.name)
  assert.ok(secure.includes('__Host-signin-session') && secure.includes('__Host-signin-op-session') && secure.includes('__Secure-signin-interaction.sig'), secure.join(', '))
  const [placements] = placementsCookies({ publicUrl: 'https://placements.example', idleTimeoutSeconds: 1200 })
  assert.equal(placements!.name, '__Host-placements-session')
  assert.match(placements!.purpose, /after 20 minutes without using the service/)
})

test('unknown paths on both services, the provider\'s own included, get the GOV.UK 404 page with the support address', async () => {
  const client = new HttpSession()
  const paths: Array<['signin' | 'placements', string]> = [
    ['signin', '/nope'], ['signin', '/token/nope'], ['signin', '/jwks/x'], ['signin', '/session/end/nope'], ['signin', '/me/nope'], ['signin', '/.well-known/nope'],
    ['placements', '/nope'], ['placements', '/support/nope'], ['placements', '/feedback/nope']
  ]
  for (const [service, path] of paths) {
    const page = await client.get(urlOf(service, path))
    assert.equal(page.status, 404, `${service} ${path}`)
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/, `${service} ${path}`)
    assert.match(page.text, /<h1 class="govuk-heading-l">Page not found<\/h1>/, `${service} ${path}`)
    expectSupportEmail(page, service, `${service} ${path}`)
    expectChrome(page, service, `${service} ${path}`)
  }
})

/**
 * A fault: the database refuses one particular feedback (a check constraint added for the
 * test), so storing it throws. The person gets the 500 page with a reference, and the
 * error is logged with the same reference.
 */
for (const service of ['signin', 'placements'] as const) {
  test(`${service}: a fault gets the GOV.UK 500 page with a reference that is also logged, and the support address`, async (t) => {
    const { context } = services[service]
    const fault = `Make ${service} fail ${Date.now()}`
    await sql`alter table feedback add constraint ${sql.raw(`test_fault_${service}`)} check (how_it_went <> ${sql.lit(fault)})`.execute(context.db)
    t.after(() => sql`alter table feedback drop constraint ${sql.raw(`test_fault_${service}`)}`.execute(context.db))
    await context.store.delete('feedback:127.0.0.1')
    const logged = mock.method(context.log, 'error', () => {})
    t.after(() => logged.mock.restore())
    const client = new HttpSession()
    const form = await client.get(urlOf(service, '/feedback'))
    const page = await client.post(urlOf(service, '/feedback'), { _csrf: csrfFrom(form.text), tryingToDo: 'Break it', howItWent: fault })
    assert.equal(page.status, 500)
    assert.match(page.text, /<h1 class="govuk-heading-l">Sorry, there is a problem with the service<\/h1>/)
    const reference = page.text.match(/id="error-reference">([A-Z0-9-]+)</)?.[1]
    assert.match(reference ?? '', /^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/, 'a short reference on the page')
    assert.match(visibleText(page.text), /If it keeps happening, email the support team and give them this reference/)
    expectSupportEmail(page, service, '500')
    expectChrome(page, service, '500')
    const [details] = logged.mock.calls.map((call) => call.arguments[0] as { reference?: string, path?: string }).filter((d) => d.reference === reference)
    assert.ok(details, `the error is logged with reference ${reference}`)
    assert.equal(details.path, '/feedback')
  })
}

test('the 503 page (a node still starting) says how to get help', async () => {
  const config = readPlacementsConfig({ NODE_ENV: 'test', PLACEMENTS_PORT: '0' })
  const app = startingApp((a) => usePlacementsViews(a, new IdentityProvider(config.identityProvider), config))
  const server = http.createServer(app).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  try {
    const page = await new HttpSession().get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/anything`)
    assert.equal(page.status, 503)
    assert.match(page.text, /Sorry, the service is unavailable/)
    expectSupportEmail(page, 'placements', '503')
    expectChrome(page, 'placements', '503')
  } finally {
    server.close()
  }
})

test('support addresses: per service, else SUPPORT_EMAIL; production will not start without one', () => {
  assert.equal(readServiceInfo({ NODE_ENV: 'test', SUPPORT_EMAIL: 'help@dfe.example', SIGNIN_SUPPORT_EMAIL: 'signin@dfe.example' }, 'SIGNIN', 'dev@example.com').support.email, 'signin@dfe.example')
  assert.equal(readServiceInfo({ NODE_ENV: 'test', SUPPORT_EMAIL: 'help@dfe.example' }, 'PLACEMENTS', 'dev@example.com').support.email, 'help@dfe.example')
  const custom = readServiceInfo({ NODE_ENV: 'test', PLACEMENTS_SUPPORT_RESPONSE_TIME: 'We aim to respond within 1 working day.', ORGANISATION_NAME: 'Another Department' }, 'PLACEMENTS', 'dev@example.com')
  assert.equal(custom.support.responseTime, 'We aim to respond within 1 working day.')
  assert.equal(custom.organisation.name, 'Another Department')
  const production = readServiceInfo({ NODE_ENV: 'production' }, 'PLACEMENTS', 'dev@example.com')
  assert.throws(() => requireSupportEmail(production, 'PLACEMENTS'), /PLACEMENTS_SUPPORT_EMAIL \(or SUPPORT_EMAIL\) must be set in production/)
  assert.throws(() => readServiceInfo({ NODE_ENV: 'test', SIGNIN_SUPPORT_EMAIL: 'not an address' }, 'SIGNIN', 'dev@example.com'), /must be an email address/)
})

for (const service of ['signin', 'placements'] as const) {
  test(`${service}: feedback is CSRF-protected, validated the GOV.UK way, stored, and limited per network`, async () => {
    const { context } = services[service]
    await context.store.delete('feedback:127.0.0.1')
    const client = new HttpSession()
    const form = await client.get(urlOf(service, '/feedback'))
    const csrf = csrfFrom(form.text)

    const forged = await new HttpSession().post(urlOf(service, '/feedback'), { _csrf: 'forged', tryingToDo: 'a', howItWent: 'b' })
    assert.equal(forged.status, 403, 'no token, no feedback')

    const empty = await client.post(urlOf(service, '/feedback'), { _csrf: csrf, tryingToDo: ' ', howItWent: '' })
    assert.equal(empty.status, 400)
    assert.match(pageTitle(empty.text), /^Error: Give feedback/)
    assert.deepEqual(errorSummary(empty.text), [
      { href: '#tryingToDo', text: 'Enter what you were trying to do' },
      { href: '#howItWent', text: 'Enter how it went' }
    ])
    assert.equal(fieldError(empty.text, 'howItWent'), 'Enter how it went')

    const long = 'x'.repeat(feedbackLimits.characters + 1)
    const bad = await client.post(urlOf(service, '/feedback'), { _csrf: csrf, tryingToDo: long, howItWent: 'Fine\u0007' })
    assert.equal(bad.status, 400)
    assert.deepEqual(errorSummary(bad.text).map((e) => e.text), [
      'What you were trying to do must be 1,200 characters or fewer',
      'How it went must only include letters, numbers, punctuation, spaces and new lines'
    ])
    assert.ok(bad.text.includes(`>${long}</textarea>`), 'what was typed is kept')

    const tryingToDo = `Add a colleague (${service} ${Date.now()})`
    const sent = await client.post(urlOf(service, '/feedback'), { _csrf: csrf, tryingToDo, howItWent: 'It went well.\r\nThe second line stays.' })
    assert.equal(sent.status, 303)
    assert.equal(sent.headers.get('location'), '/feedback/sent')
    const thanks = await client.follow(sent)
    assert.match(thanks.text, /Thank you for your feedback/)
    expectSupportEmail(thanks, service, 'feedback sent')
    const stored = await feedbackTable(service).selectFrom('feedback').selectAll().where('trying_to_do', '=', tryingToDo).executeTakeFirstOrThrow()
    assert.equal(stored.how_it_went, 'It went well.\r\nThe second line stays.')

    // One was stored; the limit allows feedbackLimits.perHour from one network in an hour.
    for (let i = 2; i <= feedbackLimits.perHour; i++) {
      assert.equal((await client.post(urlOf(service, '/feedback'), { _csrf: csrf, tryingToDo: `Burst ${i}`, howItWent: 'Fine' })).status, 303, `feedback ${i}`)
    }
    const limited = await client.post(urlOf(service, '/feedback'), { _csrf: csrf, tryingToDo: 'One too many', howItWent: 'Fine' })
    assert.equal(limited.status, 429)
    assert.deepEqual(errorSummary(limited.text).map((e) => e.text), ['You have sent a lot of feedback from your network. Wait 1 hour and try again'])
    assert.match(limited.text, new RegExp(`If you need help, email <a class="govuk-link" href="mailto:${supportEmails[service]}">`))
    assert.equal(await feedbackTable(service).selectFrom('feedback').select('id').where('trying_to_do', '=', 'One too many').executeTakeFirst(), undefined, 'not stored')
    await context.store.delete('feedback:127.0.0.1')
  })
}

test('support users read Placements feedback newest first, 20 a page; others cannot', async () => {
  const db = services.placements.context.db
  const base = Date.now()
  // 25 of this test's own, newest last; whatever other tests stored is older.
  for (let i = 1; i <= 25; i++) {
    await db.insertInto('feedback').values({ at: new Date(base + i * 1000), trying_to_do: `Console check ${i}`, how_it_went: `<b>Went</b> ${i}\nline two` }).execute()
  }
  const support = new HttpSession()
  await signInToPlacements(support, services.placements.url, 'colin.chapman@education.gov.uk')
  const first = await support.get(urlOf('placements', '/support/feedback'))
  assert.equal(first.status, 200)
  assert.match(first.text, /href="\/support\/feedback" aria-current="true">\s*<strong class="govuk-service-navigation__active-fallback">Feedback<\/strong>/, "the header's Feedback item is current")
  const shown = [...visibleText(first.text).matchAll(/Console check (\d+)/g)].map((m) => Number(m[1]))
  assert.deepEqual(shown, [25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6], 'newest first, 20 a page')
  assert.ok(/&lt;b&gt;Went&lt;\/b&gt; 25\n\s*line two/.test(first.text), `escaped, line breaks kept (shown by CSS pre-line, which drops the template's indentation): ${JSON.stringify(first.text.match(/Went.{0,40}/s)?.[0])}`)
  assert.doesNotMatch(first.text, /<table/, 'cards, not a wide table')
  const older = first.text.match(/href="(\/support\/feedback\?before=\d+)"/)?.[1]
  assert.ok(older, 'a link to older feedback')
  const second = await support.get(urlOf('placements', older))
  assert.deepEqual([...visibleText(second.text).matchAll(/Console check (\d+)/g)].map((m) => Number(m[1])), [5, 4, 3, 2, 1])
  assert.equal((await support.get(urlOf('placements', '/support/feedback?before=abc'))).status, 404)

  const schoolUser = new HttpSession()
  await signInToPlacements(schoolUser, services.placements.url, 'anne.wilson@example.com')
  assert.equal((await schoolUser.get(urlOf('placements', '/support/feedback'))).status, 403)
  const nobody = await new HttpSession().get(urlOf('placements', '/support/feedback'))
  assert.equal(nobody.status, 303, 'signed out: sign in first')
})
