import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { csrfFrom, HttpSession, type HttpResponse } from '../../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../../test/support/placements.ts'
import { signInToPlacements } from '../../../../test/support/placements-flow.ts'
import { insertAccount } from '../../../signin/accounts/accounts.ts'
import { hashPassword } from '../../../signin/accounts/passwords.ts'
import { demoPassword } from '../../../demo/personas.ts'
import { recordAudit } from '../../domain/audit.ts'
import { formatLondonTime } from './audit.ts'
import { countOrganisations, decode, demoOrganisationId, summaryRows, tableRows } from '../../../../test/support/support-console.ts'
import { givenOrganisation, givenOrganisationWithMember, givenPerson, uniqueWord } from '../../../../test/support/builders.ts'

/**
 * The support console over real HTTP, with Sign-in and Placements running together.
 * Each test makes the organisations and people it changes (test/support/builders.ts), so
 * the tests run in any order; Colin (support) and Anne (a school user) are only signed in
 * as. The list of organisations and its search, which count on the seeded data, are in
 * organisations-list.test.ts.
 */
let services: TestServices
let colin: HttpSession
let anne: HttpSession
const colinEmail = 'colin.chapman@education.gov.uk'

before(async () => {
  services = await startTestServices()
  colin = await signedInAs(colinEmail)
  anne = await signedInAs('anne.wilson@example.com')
})
after(() => services.close())

async function signedInAs(email: string): Promise<HttpSession> {
  const http = new HttpSession()
  const landing = await signInToPlacements(http, services.placements.url, email)
  assert.equal(landing.status, 200, `${email} could not sign in`)
  return http
}

const url = (path: string) => new URL(path, services.placements.url)
const get = (http: HttpSession, path: string) => http.get(url(path))

/** Posts a form as a browser would: with the session's CSRF token (from any signed-in page) unless one is given. */
async function post(http: HttpSession, path: string, form: Record<string, string | undefined>): Promise<HttpResponse> {
  const token = '_csrf' in form ? form._csrf : csrfFrom((await get(http, '/support/organisations/new')).text)
  return http.post(url(path), { ...form, _csrf: token })
}

async function postAs(http: HttpSession, tokenPage: string, path: string, form: Record<string, string>): Promise<HttpResponse> {
  return http.post(url(path), { _csrf: csrfFrom((await get(http, tokenPage)).text), ...form })
}

/** The two steps of adding an organisation: the details (303 to check), then confirm. */
async function addOrganisationAs(http: HttpSession, form: Record<string, string>): Promise<HttpResponse> {
  const details = await post(http, '/support/organisations/new', form)
  assert.equal(details.status, 303, `details: ${JSON.stringify(form)}`)
  assert.equal(details.headers.get('location'), '/support/organisations/check')
  return post(http, '/support/organisations/check', {})
}

async function userId(email: string): Promise<string> {
  const row = await services.placements.context.db.selectFrom('users').select('id').where('email_normalised', '=', email.toLowerCase()).executeTakeFirstOrThrow()
  return row.id
}

const anneOrganisation = () => demoOrganisationId(services, 'Oakwood Primary School')
const organisationCount = () => countOrganisations(services)

async function isSupport(email: string): Promise<boolean> {
  return (await services.placements.context.db.selectFrom('support_users').innerJoin('users', 'users.id', 'support_users.user_id')
    .select('users.id').where('users.email_normalised', '=', email.toLowerCase()).executeTakeFirst()) !== undefined
}

const supportPages = ['/support/organisations', '/support/organisations/new', '/support/support-users', '/support/support-users/new', '/support/audit']

describe('who may use the support console', () => {
  test('a support user lands on the organisations list after signing in', async () => {
    const http = new HttpSession()
    const landing = await signInToPlacements(http, services.placements.url, colinEmail)
    assert.equal(landing.status, 200)
    assert.equal(new URL(landing.url).pathname, '/support/organisations')
    assert.match(landing.text, /<h1 class="govuk-heading-l">Organisations<\/h1>/)
  })

  test('every support page is refused to a school user, and her forms change nothing', async () => {
    const colinId = await userId(colinEmail)
    for (const path of [...supportPages, `/support/support-users/${colinId}/remove`]) {
      const page = await get(anne, path)
      assert.equal(page.status, 403, path)
      assert.match(page.text, /You cannot view this page/)
    }
    const before = await organisationCount()
    const home = `/organisations/${await anneOrganisation()}`
    assert.equal((await postAs(anne, home, '/support/organisations/new', { kind: 'school', name: 'Anne’s School', urn: '654000' })).status, 403)
    assert.equal((await postAs(anne, home, '/support/support-users/new', { givenName: 'Anne', familyName: 'Wilson', email: 'anne@education.gov.uk' })).status, 403)
    assert.equal((await postAs(anne, home, `/support/support-users/${colinId}/remove`, {})).status, 403)
    assert.equal(await organisationCount(), before)
    assert.ok(await isSupport(colinEmail))
    assert.ok(!await isSupport('anne@education.gov.uk'))
  })

  test('signed-out people are sent to sign in, and come back to the page they asked for', async () => {
    const http = new HttpSession()
    for (const path of supportPages) {
      const page = await get(http, path)
      assert.equal(page.status, 303, path)
      assert.equal(page.headers.get('location'), `/sign-in?return_to=${encodeURIComponent(path)}`)
    }
    const landing = await signInToPlacements(http, services.placements.url, colinEmail, { path: '/support/audit' })
    assert.equal(new URL(landing.url).pathname, '/support/audit')
    assert.equal(landing.status, 200)
  })

  test('a signed-out form post changes nothing', async () => {
    const before = await organisationCount()
    const response = await new HttpSession().post(url('/support/organisations/new'), { kind: 'school', name: 'Nobody School', urn: '600001' })
    assert.equal(response.status, 403, 'no session, so no CSRF token')
    assert.equal(await organisationCount(), before)
  })
})

describe('organisations', () => {
  test('add a school', async () => {
    const form = await get(colin, '/support/organisations/new')
    assert.equal(form.status, 200)
    assert.match(form.text, /name="kind" type="radio" value="school"/)
    assert.match(form.text, /name="urn"/)
    const details = await post(colin, '/support/organisations/new', { kind: 'school', name: '  Oakfield Community School ', urn: ' 654321 ' })
    assert.equal(details.status, 303)
    assert.equal(details.headers.get('location'), '/support/organisations/check')
    const check = await get(colin, '/support/organisations/check')
    assert.equal(check.status, 200)
    assert.match(check.text, /<title>Check your answers – /)
    assert.deepEqual(summaryRows(check.text), ['Organisation name: Oakfield Community School', 'Type of organisation: School', 'URN: 654321'])
    assert.match(check.text, /href="\/support\/organisations\/new#urn"[^>]*>\s*Change<span class="govuk-visually-hidden"> URN<\/span>/)
    assert.equal(await services.placements.context.db.selectFrom('organisations').select('id').where('urn', '=', '654321').executeTakeFirst(), undefined, 'nothing is added before confirming')
    const response = await post(colin, '/support/organisations/check', {})
    assert.equal(response.status, 303)
    assert.equal(response.headers.get('location'), '/support/organisations')
    const list = await colin.follow(response)
    assert.match(list.text, /govuk-notification-banner--success/)
    assert.match(list.text, /Oakfield Community School has been added/)
    assert.doesNotMatch((await get(colin, '/support/organisations')).text, /has been added/, 'the banner shows once')
    const found = await get(colin, '/support/organisations?q=654321')
    assert.deepEqual(tableRows(found.text), ['Oakfield Community School School URN 654321'])
    const stored = await services.placements.context.db.selectFrom('organisations').selectAll().where('urn', '=', '654321').executeTakeFirstOrThrow()
    assert.equal(stored.kind, 'school')
    assert.equal(stored.ukprn, null)
  })

  test('add a teacher training provider (provider code in capitals)', async () => {
    // Without JavaScript the URN field is on the page too: what is typed there is not the provider's.
    await post(colin, '/support/organisations/new', { kind: 'provider', name: 'Eastshire SCITT', ukprn: '10088888', providerCode: '9zz', urn: '777777' })
    const check = await get(colin, '/support/organisations/check')
    assert.deepEqual(summaryRows(check.text), ['Organisation name: Eastshire SCITT', 'Type of organisation: Teacher training provider', 'UKPRN: 10088888', 'Provider code: 9ZZ'])
    assert.doesNotMatch(check.text, /777777/)
    const response = await post(colin, '/support/organisations/check', {})
    assert.equal(response.status, 303)
    assert.match((await colin.follow(response)).text, /Eastshire SCITT has been added/)
    const found = await get(colin, '/support/organisations?q=9ZZ')
    assert.deepEqual(tableRows(found.text), ['Eastshire SCITT Teacher training provider UKPRN 10088888 9ZZ'])
    const stored = await services.placements.context.db.selectFrom('organisations').selectAll().where('ukprn', '=', '10088888').executeTakeFirstOrThrow()
    assert.equal(stored.urn, null)
    assert.equal(stored.provider_code, '9ZZ')
  })

  test('each validation error, shown the GOV.UK way, and nothing added', async () => {
    const before = await organisationCount()
    const cases: Array<[Record<string, string>, Record<string, string>]> = [
      [{}, { kind: 'Select the type of organisation', name: "Enter the organisation's name" }],
      [{ kind: 'charity', name: 'X' }, { kind: 'Select the type of organisation' }],
      [{ kind: 'school', name: 'A school' }, { urn: 'Enter the URN' }],
      [{ kind: 'school', name: 'A school', urn: '12345' }, { urn: 'Enter a URN in the correct format, like 123456' }],
      [{ kind: 'school', name: 'A school', urn: '1234567' }, { urn: 'Enter a URN in the correct format, like 123456' }],
      [{ kind: 'school', name: 'A school', urn: '12a456' }, { urn: 'Enter a URN in the correct format, like 123456' }],
      [{ kind: 'school', name: '   ', urn: '123456' }, { name: "Enter the organisation's name" }],
      [{ kind: 'school', name: 'x'.repeat(201), urn: '123456' }, { name: 'Organisation name must be 200 characters or fewer' }],
      [{ kind: 'school', name: 'Line\nbreak', urn: '123456' }, { name: 'Organisation name must not include line breaks or other hidden characters' }],
      [{ kind: 'provider', name: 'A provider' }, { ukprn: 'Enter the UKPRN', providerCode: 'Enter the provider code' }],
      [{ kind: 'provider', name: 'A provider', ukprn: '20000000', providerCode: '1AB' }, { ukprn: 'Enter a UKPRN in the correct format, like 10012345' }],
      [{ kind: 'provider', name: 'A provider', ukprn: '1000012', providerCode: '1AB' }, { ukprn: 'Enter a UKPRN in the correct format, like 10012345' }],
      [{ kind: 'provider', name: 'A provider', ukprn: '10000999', providerCode: 'AB' }, { providerCode: 'Enter a provider code in the correct format, like 1BN' }],
      [{ kind: 'provider', name: 'A provider', ukprn: '10000999', providerCode: 'A-B' }, { providerCode: 'Enter a provider code in the correct format, like 1BN' }]
    ]
    for (const [form, expected] of cases) {
      const page = await post(colin, '/support/organisations/new', form)
      const label = JSON.stringify(form).slice(0, 80)
      assert.equal(page.status, 400, label)
      assert.match(page.text, /<title>Error: /, label)
      assert.match(page.text, /govuk-error-summary/, label)
      const text = decode(page.text)
      for (const [fieldName, message] of Object.entries(expected)) {
        assert.ok(text.includes(`<a href="#${fieldName}">${message}</a>`), `${label}: summary link for ${fieldName}`)
        assert.ok(text.includes(`<span class="govuk-visually-hidden">Error:</span> ${message}`), `${label}: message by ${fieldName}`)
      }
      assert.equal((text.match(/<li>\s*<a href="#/g) ?? []).length, Object.keys(expected).length, `${label}: only these errors`)
    }
    const kept = await post(colin, '/support/organisations/new', { kind: 'provider', name: 'Kept <name>', ukprn: '123', providerCode: 'zz9' })
    assert.match(kept.text, /value="Kept &lt;name&gt;"/)
    assert.match(kept.text, /value="provider" checked/)
    assert.match(kept.text, /value="ZZ9"/)
    assert.equal(await organisationCount(), before)
  })

  test('a URN, UKPRN or provider code already used is refused on its field', async () => {
    const added = await givenOrganisation(services)
    const before = await organisationCount()
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ kind: 'school', name: 'Copy of Oakwood', urn: '136790' }, 'urn', 'An organisation with this URN already exists'],
      [{ kind: 'school', name: 'Copy of a new school', urn: added.urn! }, 'urn', 'An organisation with this URN already exists'],
      [{ kind: 'provider', name: 'Copy of Best Practice', ukprn: '10000123', providerCode: '7QQ' }, 'ukprn', 'An organisation with this UKPRN already exists'],
      [{ kind: 'provider', name: 'Copy of Best Practice', ukprn: '10000124', providerCode: '1BN' }, 'providerCode', 'An organisation with this provider code already exists'],
      [{ kind: 'provider', name: 'Lower-case copy', ukprn: '10000125', providerCode: '1bn' }, 'providerCode', 'An organisation with this provider code already exists']
    ]
    for (const [form, fieldName, message] of cases) {
      const page = await post(colin, '/support/organisations/new', form)
      assert.equal(page.status, 400, JSON.stringify(form))
      assert.ok(page.text.includes(`<a href="#${fieldName}">${message}</a>`), JSON.stringify(form))
    }
    assert.equal(await organisationCount(), before)
  })

  test('the same school confirmed four times at once (four tabs): one is added, the others are told it exists', async () => {
    const before = await organisationCount()
    const token = csrfFrom((await get(colin, '/support/organisations/new')).text)
    assert.equal((await colin.post(url('/support/organisations/new'), { _csrf: token, kind: 'school', name: 'Twin School', urn: '655555' })).status, 303)
    const responses = await Promise.all([1, 2, 3, 4].map(() => colin.post(url('/support/organisations/check'), { _csrf: token })))
    // One is added; each of the others is told it exists, or (its answers already used up) sent back to the form.
    const added = responses.filter((r) => r.headers.get('location') === '/support/organisations')
    assert.equal(added.length, 1, responses.map((r) => `${r.status} ${r.headers.get('location')}`).join(', '))
    for (const response of responses.filter((r) => r !== added[0])) {
      if (response.status === 400) assert.match(response.text, /An organisation with this URN already exists/)
      else assert.equal(response.headers.get('location'), '/support/organisations/new')
    }
    assert.equal(await organisationCount(), before + 1)
    await get(colin, '/support/organisations') // shows (and so clears) the banner
  })

  test('odd form bodies are refused, never an error', async () => {
    const before = await organisationCount()
    const token = csrfFrom((await get(colin, '/support/organisations/new')).text)
    const bodies = [
      'kind=school&kind=provider&name=Twice&urn=600100',
      'kind[]=school&name=Array&urn=600101',
      'kind=school&name[a]=Object&urn=600102',
      'kind=school&name=%00&urn=600103',
      'kind=school&name=Fine&urn=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96'
    ]
    for (const body of bodies) {
      const response = await colin.request('POST', url('/support/organisations/new'), new URLSearchParams(`_csrf=${encodeURIComponent(token)}&${body}`))
      assert.equal(response.status, 400, body)
    }
    const huge = await colin.post(url('/support/organisations/new'), { _csrf: token, kind: 'school', name: 'x'.repeat(20000), urn: '600104' })
    assert.ok(huge.status >= 400 && huge.status < 500, String(huge.status))
    assert.equal(await organisationCount(), before)
  })
})

describe('adding an organisation: check your answers', () => {
  test('the check page needs answers first; without them it goes back to the form', async () => {
    const fresh = await signedInAs(colinEmail)
    const check = await get(fresh, '/support/organisations/check')
    assert.equal(check.status, 303)
    assert.equal(check.headers.get('location'), '/support/organisations/new')
    const before = await organisationCount()
    const confirm = await post(fresh, '/support/organisations/check', {})
    assert.equal(confirm.status, 303)
    assert.equal(confirm.headers.get('location'), '/support/organisations/new')
    assert.equal(await organisationCount(), before)
  })

  test('Change goes back to the form with every answer kept, and a changed type keeps only its own references', async () => {
    const before = await organisationCount()
    await post(colin, '/support/organisations/new', { kind: 'school', name: 'Changeable School', urn: '656565' })
    const form = await get(colin, '/support/organisations/new')
    assert.match(form.text, /value="Changeable School"/)
    assert.match(form.text, /value="school" checked/)
    assert.match(form.text, /name="urn"[^>]*value="656565"/)
    // Now a provider instead; the school's URN is still in its field, as it would be without JavaScript.
    await post(colin, '/support/organisations/new', { kind: 'provider', name: 'Changeable SCITT', urn: '656565', ukprn: '10065656', providerCode: '6cs' })
    const check = await get(colin, '/support/organisations/check')
    assert.deepEqual(summaryRows(check.text), ['Organisation name: Changeable SCITT', 'Type of organisation: Teacher training provider', 'UKPRN: 10065656', 'Provider code: 6CS'])
    assert.equal(await organisationCount(), before, 'nothing added before confirming')
    const done = await post(colin, '/support/organisations/check', {})
    assert.equal(done.status, 303)
    const stored = await services.placements.context.db.selectFrom('organisations').selectAll().where('ukprn', '=', '10065656').executeTakeFirstOrThrow()
    assert.deepEqual([stored.kind, stored.name, stored.urn, stored.provider_code], ['provider', 'Changeable SCITT', null, '6CS'])
    assert.equal(await organisationCount(), before + 1)
    await get(colin, '/support/organisations') // shows (and so clears) the banner
  })

  test('confirming adds exactly one organisation with one audit event; confirming again adds nothing', async () => {
    const db = services.placements.context.db
    const before = await organisationCount()
    const response = await addOrganisationAs(colin, { kind: 'school', name: 'Once Only School', urn: '657657' })
    assert.equal(response.status, 303)
    assert.equal(response.headers.get('location'), '/support/organisations')
    assert.equal(await organisationCount(), before + 1)
    const added = await db.selectFrom('organisations').select('id').where('urn', '=', '657657').executeTakeFirstOrThrow()
    const events = await db.selectFrom('audit_events').select('event').where('organisation_id', '=', added.id).execute()
    assert.deepEqual(events.map((e) => e.event), ['organisation-added'])
    // The answers ended with it: a repeated confirm (back button, double submit) is sent to the form.
    const again = await post(colin, '/support/organisations/check', {})
    assert.equal(again.status, 303)
    assert.equal(again.headers.get('location'), '/support/organisations/new')
    assert.equal(await organisationCount(), before + 1)
    assert.doesNotMatch((await get(colin, '/support/organisations/new')).text, /Once Only School/, 'a new form starts empty')
  })

  test('confirming needs the CSRF token', async () => {
    const before = await organisationCount()
    await post(colin, '/support/organisations/new', { kind: 'school', name: 'Forged Confirm School', urn: '658658' })
    const forged = await colin.post(url('/support/organisations/check'), { _csrf: 'not-the-token' })
    assert.equal(forged.status, 403)
    const missing = await colin.post(url('/support/organisations/check'), {})
    assert.equal(missing.status, 403)
    assert.equal(await organisationCount(), before)
  })

  test('a reference taken between checking and confirming is refused on its field, with the answers kept', async () => {
    await post(colin, '/support/organisations/new', { kind: 'school', name: 'Slow School', urn: '659659' })
    await services.placements.context.db.insertInto('organisations').values({ kind: 'school', name: 'Quick School', urn: '659659', created_at: new Date() }).execute()
    const before = await organisationCount()
    const page = await post(colin, '/support/organisations/check', {})
    assert.equal(page.status, 400)
    assert.ok(page.text.includes('<a href="#urn">An organisation with this URN already exists</a>'))
    assert.match(page.text, /value="Slow School"/)
    assert.equal(await organisationCount(), before)
  })

  test('a school user cannot see or confirm the check step', async () => {
    const home = `/organisations/${await anneOrganisation()}`
    assert.equal((await get(anne, '/support/organisations/check')).status, 403)
    assert.equal((await postAs(anne, home, '/support/organisations/check', {})).status, 403)
  })
})

describe('support users', () => {
  test('lists the support users, with no way to remove yourself', async () => {
    const other = await givenPerson(services, { givenName: 'Lee', familyName: `Listed-${uniqueWord()}`, email: `lee.${uniqueWord()}@education.gov.uk`, support: true })
    const page = await get(colin, '/support/support-users')
    assert.equal(page.status, 200)
    const rows = tableRows(page.text)
    assert.ok(rows.includes('Colin Chapman colin.chapman@education.gov.uk You'), rows.join('\n'))
    assert.ok(rows.includes(`Lee ${other.familyName} ${other.email} Remove Lee ${other.familyName}`), rows.join('\n'))
    assert.match(page.text, /href="\/support\/support-users\/new"[^>]*>\s*Add support user/)
    assert.doesNotMatch(page.text, new RegExp(`/support/support-users/${await userId(colinEmail)}/remove"`), 'no way to remove yourself')
  })

  test('only an address in the department is accepted, with each field checked', async () => {
    const cases: Array<[Record<string, string>, Record<string, string>]> = [
      [{}, { givenName: 'Enter their first name', familyName: 'Enter their last name', email: 'Enter their email address' }],
      [{ givenName: 'Sam', familyName: 'Jones', email: 'sam.jones@example.com' }, { email: 'Enter an email address ending in @education.gov.uk' }],
      [{ givenName: 'Sam', familyName: 'Jones', email: 'sam@education.gov.uk.example.com' }, { email: 'Enter an email address ending in @education.gov.uk' }],
      [{ givenName: 'Sam', familyName: 'Jones', email: 'sam@noteducation.gov.uk' }, { email: 'Enter an email address ending in @education.gov.uk' }],
      [{ givenName: 'Sam', familyName: 'Jones', email: 'not an email' }, { email: 'Enter an email address in the correct format, like name@example.com' }],
      [{ givenName: 'S'.repeat(101), familyName: 'Jones<', email: 'sam@education.gov.uk' },
        { givenName: 'First name must be 100 characters or fewer', familyName: 'Last name must only include letters a to z, hyphens, spaces and apostrophes' }]
    ]
    for (const [form, expected] of cases) {
      const page = await post(colin, '/support/support-users/new', form)
      const label = JSON.stringify(form).slice(0, 80)
      assert.equal(page.status, 400, label)
      assert.match(page.text, /<title>Error: /, label)
      for (const [fieldName, message] of Object.entries(expected)) {
        assert.ok(page.text.includes(`<a href="#${fieldName}">${message}</a>`), `${label}: ${fieldName}`)
      }
    }
    assert.ok(!await isSupport('sam.jones@example.com'))
    assert.equal(await services.latestPlacementsEmail('sam.jones@example.com'), undefined)
  })

  test('add a support user: listed, told by email, and cannot be added twice', async () => {
    const response = await post(colin, '/support/support-users/new', { givenName: 'Priya', familyName: 'Shah', email: 'Priya.Shah@Education.gov.uk' })
    assert.equal(response.status, 303)
    const list = await colin.follow(response)
    assert.match(decode(list.text), /Priya Shah has been added as a support user/)
    assert.ok(tableRows(list.text).includes('Priya Shah Priya.Shah@Education.gov.uk Remove Priya Shah'), tableRows(list.text).join('\n'))
    assert.ok(await isSupport('priya.shah@education.gov.uk'))
    const email = await services.latestPlacementsEmail('Priya.Shah@Education.gov.uk')
    assert.ok(email, 'an email is queued')
    assert.match(email.subject, /support user/)
    assert.match(email.body, new RegExp(`${services.placements.url}/sign-in\\?login_hint=`))

    const again = await post(colin, '/support/support-users/new', { givenName: 'Priya', familyName: 'Shah', email: 'priya.shah@education.gov.uk' })
    assert.equal(again.status, 400)
    assert.match(again.text, /href="#email">priya.shah@education.gov.uk is already a support user/)
  })

  test('remove a support user after confirming', async () => {
    const priya = await givenPerson(services, { givenName: 'Priya', familyName: 'Shah', email: `priya.${uniqueWord()}@education.gov.uk`, support: true })
    const priyaId = priya.user!.id
    const confirm = await get(colin, `/support/support-users/${priyaId}/remove`)
    assert.equal(confirm.status, 200)
    assert.match(confirm.text, /Are you sure you want to remove Priya Shah as a support user\?/)
    assert.match(confirm.text, new RegExp(`action="/support/support-users/${priyaId}/remove"`))
    assert.ok(await isSupport(priya.email), 'the confirmation page changes nothing')
    const response = await post(colin, `/support/support-users/${priyaId}/remove`, {})
    assert.equal(response.status, 303)
    const list = await colin.follow(response)
    assert.match(list.text, /Priya Shah has been removed as a support user/)
    assert.ok(!tableRows(list.text).some((row) => row.includes(priya.email)))
    assert.ok(!await isSupport(priya.email))
    assert.equal((await get(colin, `/support/support-users/${priyaId}/remove`)).status, 404, 'no longer a support user')
    assert.equal((await post(colin, `/support/support-users/${priyaId}/remove`, {})).status, 404)
  })

  test('you cannot remove yourself', async () => {
    const colinId = await userId(colinEmail)
    for (const id of [colinId, colinId.toUpperCase()]) {
      const page = await get(colin, `/support/support-users/${id}/remove`)
      assert.equal(page.status, 403)
      assert.match(page.text, /You cannot remove yourself as a support user/)
      assert.equal((await post(colin, `/support/support-users/${id}/remove`, {})).status, 403)
    }
    assert.ok(await isSupport(colinEmail))
  })

  test('someone who is not a support user, or no one at all, is not found', async () => {
    const anneId = await userId('anne.wilson@example.com')
    for (const id of [anneId, '00000000-0000-4000-8000-000000000000', 'not-an-id', '%00', "1' or '1'='1"]) {
      const path = `/support/support-users/${encodeURIComponent(id)}/remove`
      assert.equal((await get(colin, path)).status, 404, id)
      assert.equal((await post(colin, path, {})).status, 404, id)
    }
  })
})

describe('CSRF', () => {
  test('a missing or forged token is refused and changes nothing', async () => {
    const before = await organisationCount()
    const tom = await givenPerson(services, { givenName: 'Tom', familyName: 'Reed', email: `tom.${uniqueWord()}@education.gov.uk`, support: true })
    const tomId = tom.user!.id
    const forms: Array<[string, Record<string, string>]> = [
      ['/support/organisations/new', { kind: 'school', name: 'Forged School', urn: '611111' }],
      ['/support/support-users/new', { givenName: 'Eve', familyName: 'Forger', email: 'eve@education.gov.uk' }],
      [`/support/support-users/${tomId}/remove`, {}]
    ]
    const anneToken = csrfFrom((await get(anne, `/organisations/${await anneOrganisation()}`)).text)
    for (const [path, form] of forms) {
      for (const token of [undefined, '', 'forged', anneToken]) {
        const response = await colin.post(url(path), { ...form, _csrf: token })
        assert.equal(response.status, 403, `${path} with ${token === anneToken ? "another session's token" : JSON.stringify(token)}`)
        assert.match(response.text, /This page has expired/)
      }
    }
    assert.equal(await organisationCount(), before)
    assert.ok(!await isSupport('eve@education.gov.uk'))
    assert.ok(await isSupport(tom.email))
  })
})

describe('audit trail', () => {
  test('shows sign-ins, refused sign-ins and the changes made, newest first, in plain words', async () => {
    // Changes made through the console: an organisation, then a support user added and removed.
    const word = uniqueWord()
    // A sign-in of this test's own: other tests may add events enough to push the first sign-ins off page one.
    const { member } = await givenOrganisationWithMember(services, { member: { givenName: 'Ann', familyName: `Audit-${word}` } })
    await signedInAs(member.email)
    const school = `Audited School ${word}`
    assert.equal((await addOrganisationAs(colin, { kind: 'school', name: school, urn: String(parseInt(word.slice(-5), 16) % 900000 + 100000) })).status, 303)
    const supportEmail = `Ada.${word}@Education.gov.uk`
    assert.equal((await post(colin, '/support/support-users/new', { givenName: 'Ada', familyName: 'Audit', email: supportEmail })).status, 303)
    assert.equal((await post(colin, `/support/support-users/${await userId(supportEmail)}/remove`, {})).status, 303)
    // A real refused sign-in: an account at Sign-in that Placements has never heard of.
    const stranger = `stranger.${word}@example.com`
    await insertAccount(services.signin.context.db, { email: stranger, givenName: 'Stan', familyName: 'Ranger', passwordHash: await hashPassword(demoPassword) }, new Date())
    const refused = await signInToPlacements(new HttpSession(), services.placements.url, stranger)
    assert.match(refused.text, /You do not have access to this service/)

    const page = await get(colin, '/support/audit')
    assert.equal(page.status, 200)
    const rows = tableRows(page.text).map(decode)
    assert.ok(rows[0]!.includes(`Sign-in refused: no access ${stranger}`) && rows[0]!.endsWith('Failed'), rows[0])
    assert.ok(rows[1]!.endsWith(` Support user removed Colin Chapman colin.chapman@education.gov.uk ${supportEmail} Success`), rows[1])
    const expectations: RegExp[] = [
      new RegExp(`Support user added Colin Chapman colin.chapman@education.gov.uk ${supportEmail.replace(/\./g, '\\.')}\\s+Success`),
      new RegExp(`Organisation added Colin Chapman colin.chapman@education.gov.uk\\s+${school} Success`),
      new RegExp(`Signed in Ann Audit-${word} ${member.email.replace(/\./g, '\\.')} ${member.email.replace(/\./g, '\\.')}\\s+Success`)
    ]
    let previous = 0
    for (const expected of expectations) {
      const index = rows.findIndex((row, i) => i >= previous && expected.test(row))
      assert.ok(index >= 0, `${expected} after row ${previous}:\n${rows.join('\n')}`)
      previous = index + 1
    }
    assert.match(rows[0]!, /^\d{1,2} [A-Z][a-z]+ \d{4} at (\d{1,2}:\d{2}[ap]m|midday|midnight) /)
    assert.ok(!rows.some((row) => /Eve|Forged School/.test(row)), 'refused forms left no trace')
  })

  test('50 events a page; older pages exist and a page that cannot exist is not found', async () => {
    const db = services.placements.context.db
    for (let i = 0; i < 60; i++) await recordAudit(db, { event: 'sign-out', email: `filler${i}@example.com` }, new Date())
    const total = Number((await db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n)
    const first = await get(colin, '/support/audit')
    assert.equal(tableRows(first.text).length, 50)
    assert.match(tableRows(first.text)[0]!, /Signed out\s+filler59@example.com/)
    assert.match(first.text, new RegExp(`Showing 1 to 50 of ${total} results`))
    // "Next" continues from the page's last event (keyset, ADR 20); "Previous" from the next page's first comes back to the same rows.
    const next = first.text.match(/href="(\/support\/audit\?page=2&amp;before=\d+)"/)
    assert.ok(next, 'a link to page 2 that continues from the last event shown')
    const second = await get(colin, next[1]!.replaceAll('&amp;', '&'))
    assert.equal(second.status, 200)
    assert.match(second.text, new RegExp(`Showing 51 to ${50 + tableRows(second.text).length} of ${total} results`))
    assert.deepEqual(tableRows(second.text), tableRows((await get(colin, '/support/audit?page=2')).text))
    assert.equal(tableRows(second.text).length, Math.min(50, total - 50))
    assert.match(second.text, /href="\/support\/audit" rel="prev"/, 'page 1 is read from the newest end')
    // Back from a later page: the page just newer than that page's first event.
    const { seq: secondFirst } = await db.selectFrom('audit_events').select('seq').orderBy('seq', 'desc').offset(50).limit(1).executeTakeFirstOrThrow()
    assert.deepEqual(tableRows((await get(colin, `/support/audit?page=1&after=${secondFirst}`)).text), tableRows(first.text))
    for (const page of ['999', '0', 'x', '-2']) assert.equal((await get(colin, `/support/audit?page=${page}`)).status, 404, page)
    for (const query of ['page=2&before=x', 'page=2&before=0', 'page=2&before=1&after=1', 'page=2&before=1']) {
      assert.equal((await get(colin, `/support/audit?${query}`)).status, 404, query)
    }
  })

  test('a session that ended after inactivity reads "Session ended", outcome "Timed out" (not "Success")', async () => {
    const anneId = await userId('anne.wilson@example.com')
    await recordAudit(services.placements.context.db, { event: 'session-timed-out', actorUserId: anneId, subjectUserId: anneId }, new Date())
    const row = tableRows((await get(colin, '/support/audit')).text)[0]!
    assert.match(row, /Session ended Anne Wilson anne.wilson@example.com anne.wilson@example.com\s+Timed out$/)
    // An event in no organisation leaves "Organisation" out of the stacked rows on small screens, not an empty heading.
    const page = (await get(colin, '/support/audit')).text
    assert.match(page, /<td class="govuk-table__cell app-table__cell--empty govuk-!-font-size-16" role="cell"><span class="app-table__label" aria-hidden="true">Organisation<\/span><\/td>/)
    assert.doesNotMatch(row, /Success/)
  })

  test('times are UK time in GOV.UK style', () => {
    assert.equal(formatLondonTime(new Date('2026-11-27T15:04:00Z')), '27 November 2026 at 3:04pm')
    assert.equal(formatLondonTime(new Date('2026-07-01T08:30:00Z')), '1 July 2026 at 9:30am')
    assert.equal(formatLondonTime(new Date('2026-07-01T11:00:00Z')), '1 July 2026 at midday')
    assert.equal(formatLondonTime(new Date('2026-07-01T23:00:00Z')), '2 July 2026 at midnight')
    assert.equal(formatLondonTime(new Date('2026-12-31T23:59:00Z')), '31 December 2026 at 11:59pm')
  })
})
