import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { csrfFrom, HttpSession } from '../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../test/support/placements.ts'
import { signInToPlacements } from '../../../test/support/placements-flow.ts'
import { nextAppCode } from '../../../test/support/second-factor.ts'
import { demoAppSecret } from '../../demo/personas.ts'
import { acrMeets, acrStrengths, readPlacementsConfig } from '../config.ts'

/**
 * Placements asks for a second factor (ADR 10): every sign-in sends `acr_values` for
 * multi-factor and checks the ID token's `acr`; support pages need an authenticator app,
 * and a support user signed in with less is sent to step up and comes back to the page.
 */
const colinEmail = 'colin.chapman@education.gov.uk'
const multiFactor = acrStrengths[2]!
const app = acrStrengths[1]!
let services: TestServices

before(async () => {
  services = await startTestServices()
})
after(() => services.close())

test('the settings: multi-factor by default, the app level for support, "off" for a provider without acr', () => {
  const base = { NODE_ENV: 'test', PLACEMENTS_PORT: '0' }
  const defaults = readPlacementsConfig(base).identityProvider
  assert.equal(defaults.requiredAcr, 'http://schemas.openid.net/pape/policies/2007/06/multi-factor')
  assert.equal(defaults.supportRequiredAcr, 'http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical')
  const off = readPlacementsConfig({ ...base, OIDC_REQUIRED_ACR: 'off' }).identityProvider
  assert.equal(off.requiredAcr, undefined)
  assert.equal(off.supportRequiredAcr, undefined, 'off for everything unless support is set on its own')
  assert.equal(readPlacementsConfig({ ...base, OIDC_REQUIRED_ACR: 'off', OIDC_SUPPORT_REQUIRED_ACR: app }).identityProvider.supportRequiredAcr, app)
  assert.throws(() => readPlacementsConfig({ ...base, OIDC_REQUIRED_ACR: 'two words' }), /OIDC_REQUIRED_ACR/)
})

test('acrMeets: a stronger level meets a weaker requirement, never the reverse; unknown values must match exactly', () => {
  assert.equal(acrMeets(app, multiFactor), true)
  assert.equal(acrMeets(multiFactor, multiFactor), true)
  assert.equal(acrMeets(multiFactor, app), false)
  assert.equal(acrMeets(undefined, multiFactor), false)
  assert.equal(acrMeets(undefined, undefined), true)
  assert.equal(acrMeets('urn:other:loa2', 'urn:other:loa2'), true)
  assert.equal(acrMeets('urn:other:loa3', 'urn:other:loa2'), false)
  // A passkey (ADR 12) meets every level; nothing weaker meets it.
  const phishingResistant = 'http://schemas.openid.net/pape/policies/2007/06/phishing-resistant'
  assert.equal(acrMeets(phishingResistant, app), true)
  assert.equal(acrMeets(phishingResistant, multiFactor), true)
  assert.equal(acrMeets(app, phishingResistant), false)
  assert.equal(readPlacementsConfig({ NODE_ENV: 'test', PLACEMENTS_PORT: '0', OIDC_SUPPORT_REQUIRED_ACR: phishingResistant }).identityProvider.supportRequiredAcr, phishingResistant)
})

test('sign-in sends acr_values for multi-factor', async () => {
  const http = new HttpSession()
  const redirect = await http.get(new URL('/sign-in', services.placements.url))
  const authorize = new URL(redirect.headers.get('location')!)
  assert.equal(authorize.searchParams.get('acr_values'), multiFactor)
})

test('a support user signed in with an emailed code is sent to step up on a support page, is asked only for the app code, and comes back to that page', async () => {
  const http = new HttpSession()
  // Colin chooses the emailed code: a multi-factor sign-in, but not the app level support needs.
  const landed = await signInToPlacements(http, services.placements.url, colinEmail, { path: '/sign-in?return_to=%2Fsupport%2Faudit', useEmail: true })
  assert.match(new URL(landed.url).pathname, /\/interaction\/[A-Za-z0-9_-]+\/authenticator-app-code$/, `ended at ${landed.url}`)
  assert.doesNotMatch(landed.text, /name="password"/)
  const back = await http.follow(await http.post(landed.url, { _csrf: csrfFrom(landed.text), code: await nextAppCode(demoAppSecret) }))
  assert.equal(back.status, 200)
  assert.equal(new URL(back.url).pathname, '/support/audit')
  // Stepped up: support pages open straight away from now on.
  const again = await http.get(new URL('/support/organisations', services.placements.url))
  assert.equal(again.status, 200)
})

test('a support user who has not stepped up has no support powers: organisations they are not in are not shown, support pages send them to step up', async () => {
  const http = new HttpSession()
  await signInToPlacements(http, services.placements.url, colinEmail, { useEmail: true })
  const organisation = await services.placements.context.db.selectFrom('organisations').select('id').where('name', '=', 'Oakwood Primary School').executeTakeFirstOrThrow()
  const page = await http.get(new URL(`/organisations/${organisation.id}`, services.placements.url))
  assert.equal(page.status, 303)
  assert.equal(page.headers.get('location'), `/sign-in?step_up=support&return_to=${encodeURIComponent(`/organisations/${organisation.id}`)}`)
  const stepUp = await http.get(new URL(page.headers.get('location')!, services.placements.url))
  assert.equal(new URL(stepUp.headers.get('location')!).searchParams.get('acr_values'), app)
})
