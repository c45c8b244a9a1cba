import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { csrfFrom, HttpSession, type HttpResponse } from '../../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../../test/support/placements.ts'
import { signInToPlacements } from '../../../../test/support/placements-flow.ts'
import { givenOrganisation, givenOrganisationWithMember, givenPerson, type BuiltPerson } from '../../../../test/support/builders.ts'

/**
 * Adding and removing an organisation's users, over real HTTP against both services.
 * Each test builds its own organisations and people (test/support/builders.ts), so the
 * tests run in any order; only Colin, the demo support user, is borrowed, and only to
 * sign in.
 */
let services: TestServices
let placementsUrl: string
before(async () => {
  services = await startTestServices()
  placementsUrl = services.placements.url
})
after(() => services.close())

const colin = 'colin.chapman@education.gov.uk'

const db = () => services.placements.context.db
const url = (path: string) => new URL(path, placementsUrl)

async function userId(email: string): Promise<string> {
  return (await db().selectFrom('users').select('id').where('email_normalised', '=', email.toLowerCase()).executeTakeFirstOrThrow()).id
}

async function usersWithEmail(email: string): Promise<number> {
  return (await db().selectFrom('users').select('id').where('email_normalised', '=', email.toLowerCase()).execute()).length
}

async function isMemberOf(email: string, organisation: string): Promise<boolean> {
  const row = await db().selectFrom('memberships').innerJoin('users', 'users.id', 'memberships.user_id')
    .select('users.id').where('users.email_normalised', '=', email.toLowerCase()).where('memberships.organisation_id', '=', organisation).executeTakeFirst()
  return row !== undefined
}

async function emailsTo(email: string): Promise<number> {
  return (await db().selectFrom('outbox').select('id').where('recipient', '=', email).execute()).length
}

async function auditEvents(event: 'user-invited' | 'membership-added' | 'membership-removed', email: string) {
  return db().selectFrom('audit_events').selectAll().where('event', '=', event).where('email', '=', email).execute()
}

async function signedIn(person: BuiltPerson | string): Promise<HttpSession> {
  const email = typeof person === 'string' ? person : person.email
  const http = new HttpSession()
  const page = await signInToPlacements(http, placementsUrl, email)
  assert.equal(page.status, 200, `${email} could not sign in`)
  return http
}

async function csrfOf(http: HttpSession, path: string): Promise<string> {
  const page = await http.get(url(path))
  assert.equal(page.status, 200, `GET ${path}`)
  return csrfFrom(page.text)
}

type Person = { givenName: string, familyName: string, email: string }

async function enterDetails(http: HttpSession, organisation: string, person: Partial<Person>): Promise<HttpResponse> {
  const path = `/organisations/${organisation}/users/new`
  return http.post(url(path), { _csrf: await csrfOf(http, path), ...person })
}

async function confirm(http: HttpSession, organisation: string): Promise<HttpResponse> {
  const path = `/organisations/${organisation}/users/check`
  return http.post(url(path), { _csrf: await csrfOf(http, path) })
}

async function addUser(http: HttpSession, organisation: string, person: Person): Promise<HttpResponse> {
  const details = await enterDetails(http, organisation, person)
  assert.equal(details.status, 303, 'details accepted')
  return confirm(http, organisation)
}

async function remove(http: HttpSession, organisation: string, user: string): Promise<HttpResponse> {
  const path = `/organisations/${organisation}/users/${user}/remove`
  return http.post(url(path), { _csrf: await csrfOf(http, path) })
}

function assertFormError(page: HttpResponse, field: string, message: string) {
  assert.equal(page.status, 400)
  assert.match(page.text, /<title>Error: Add user – Manage school placements – GOV.UK<\/title>/)
  assert.match(page.text, /There is a problem/)
  assert.ok(page.text.includes(`href="#${field}">${message}</a>`), `error summary links to ${field} with "${message}"`)
  assert.ok(page.text.includes(`<span class="govuk-visually-hidden">Error:</span> ${message}`), `message by ${field}`)
}

test('a member adds a new user: details, check answers, confirm; the person is invited by email, audited and listed', async () => {
  const { organisation, member } = await givenOrganisationWithMember(services)
  const oakwood = organisation.id
  const http = await signedIn(member)

  const organisationPage = await http.get(url(`/organisations/${oakwood}`))
  assert.match(organisationPage.text, new RegExp(`href="/organisations/${oakwood}/users/new"`))

  const form = await http.get(url(`/organisations/${oakwood}/users/new`))
  assert.equal(form.status, 200)
  assert.match(form.text, /<title>Add user – Manage school placements – GOV.UK<\/title>/)
  assert.match(form.text, /Use their work email address/)
  assert.match(form.text, /<input type="hidden" name="_csrf" value="[^"]+">/)

  const details = await enterDetails(http, oakwood, { givenName: ' Jane ', familyName: 'Smith', email: 'Jane.Smith@example.com ' })
  assert.equal(details.status, 303)
  assert.equal(details.headers.get('location'), `/organisations/${oakwood}/users/check`)

  const check = await http.get(url(`/organisations/${oakwood}/users/check`))
  assert.equal(check.status, 200)
  assert.match(check.text, /<h1 class="govuk-heading-l">Check your answers<\/h1>/)
  for (const value of ['Jane', 'Smith', 'Jane.Smith@example.com']) assert.match(check.text, new RegExp(`govuk-summary-list__value">\\s*${value}\\s*<`))
  assert.equal(check.text.match(/>\s*Change<span class="govuk-visually-hidden">/g)?.length, 3)
  assert.match(check.text, new RegExp(`<form method="post" action="/organisations/${oakwood}/users/check"`))
  assert.match(check.text, /Confirm and add user/)
  assert.equal(await usersWithEmail('jane.smith@example.com'), 0, 'nothing is added before confirming')

  const confirmed = await confirm(http, oakwood)
  assert.equal(confirmed.status, 303)
  assert.equal(confirmed.headers.get('location'), `/organisations/${oakwood}`)
  const landed = await http.get(url(`/organisations/${oakwood}`))
  assert.match(landed.text, /govuk-notification-banner--success/)
  assert.match(landed.text, /Jane Smith has been added. We&#39;ve sent them an email with a link to sign in./)
  // One row, the name then the address (each cell starts with its column's name for small screens).
  assert.match(landed.text, /Jane Smith<\/td>\s*<td class="govuk-table__cell[^"]*" role="cell">(<span class="app-table__label"[^>]*>Email address<\/span>)?Jane.Smith@example.com<\/td>/)
  const reloaded = await http.get(url(`/organisations/${oakwood}`))
  assert.doesNotMatch(reloaded.text, /has been added/, 'the banner shows once')

  const email = await services.latestPlacementsEmail('Jane.Smith@example.com')
  assert.ok(email, 'an invitation is queued')
  assert.ok(email.subject.includes(organisation.name))
  assert.match(email.subject, /Manage school placements/)
  assert.match(email.body, /Dear Jane,/)
  assert.match(email.body, /If you need help, email placements-support@example\.com\. We aim to respond within 2 working days\./, 'the invitation says where to get help')
  const link = `${placementsUrl}/sign-in?login_hint=Jane.Smith%40example.com`
  assert.ok(email.body.includes(link), `the email links to ${link}`)
  const followed = await new HttpSession().get(link)
  assert.equal(followed.status, 303, 'the link starts a sign-in')
  assert.match(followed.headers.get('location') ?? '', /login_hint=Jane.Smith%40example.com/)

  const [audit] = await auditEvents('user-invited', 'Jane.Smith@example.com')
  assert.ok(audit, 'the invitation is audited')
  assert.equal(audit.actor_user_id, member.user!.id)
  assert.equal(audit.subject_user_id, await userId('jane.smith@example.com'))
  assert.equal(audit.organisation_id, oakwood)
  assert.equal(await usersWithEmail('jane.smith@example.com'), 1)

  const again = await http.get(url(`/organisations/${oakwood}/users/check`))
  assert.equal(again.status, 303, 'the journey has ended')
  assert.equal(again.headers.get('location'), `/organisations/${oakwood}/users/new`)
  const fresh = await http.get(url(`/organisations/${oakwood}/users/new`))
  assert.doesNotMatch(fresh.text, /Jane/, 'the next person starts from an empty form')
})

test('each field is checked the GOV.UK way: 400, error summary, message by the field, "Error:" title, answers kept', async () => {
  const { organisation: { id: oakwood }, member } = await givenOrganisationWithMember(services)
  const http = await signedIn(member)
  const valid = { givenName: 'Kim', familyName: 'Lee', email: 'kim.lee@example.com' }
  const cases: Array<[Partial<Person>, string, string]> = [
    [{ ...valid, givenName: '' }, 'givenName', 'Enter their first name'],
    [{ ...valid, givenName: '   ' }, 'givenName', 'Enter their first name'],
    [{ ...valid, familyName: '' }, 'familyName', 'Enter their last name'],
    [{ ...valid, email: '' }, 'email', 'Enter their email address'],
    [{ ...valid, email: 'kim.lee' }, 'email', 'Enter an email address in the correct format, like name@example.com'],
    [{ ...valid, email: 'kim lee@example.com' }, 'email', 'Enter an email address in the correct format, like name@example.com'],
    [{ ...valid, email: 'kim@example' }, 'email', 'Enter an email address in the correct format, like name@example.com'],
    [{ ...valid, givenName: 'K'.repeat(101) }, 'givenName', 'First name must be 100 characters or fewer'],
    [{ ...valid, familyName: 'L'.repeat(101) }, 'familyName', 'Last name must be 100 characters or fewer'],
    [{ ...valid, email: `${'k'.repeat(243)}@example.com` }, 'email', 'Email address must be 254 characters or fewer'],
    [{ ...valid, givenName: 'Kim<script>' }, 'givenName', 'First name must only include letters a to z, hyphens, spaces and apostrophes'],
    [{ ...valid, familyName: 'Le\u0000e' }, 'familyName', 'Last name must only include letters a to z, hyphens, spaces and apostrophes'],
    [{ ...valid, email: 'kim\u0007@example.com' }, 'email', 'Enter an email address in the correct format, like name@example.com']
  ]
  for (const [person, field, message] of cases) {
    const page = await enterDetails(http, oakwood, person)
    assertFormError(page, field, message)
  }

  const empty = await enterDetails(http, oakwood, {})
  assertFormError(empty, 'givenName', 'Enter their first name')
  assertFormError(empty, 'familyName', 'Enter their last name')
  assertFormError(empty, 'email', 'Enter their email address')

  const kept = await enterDetails(http, oakwood, { givenName: 'Kim "K" <b>', familyName: 'Lee', email: 'kim.lee' })
  assert.match(kept.text, /value="Kim &quot;K&quot; &lt;b&gt;"/, 'answers are kept, escaped')
  assert.match(kept.text, /value="Lee"/)
  assert.match(kept.text, /value="kim.lee"/)

  const check = await http.get(url(`/organisations/${oakwood}/users/check`))
  assert.equal(check.status, 303, 'no answers were saved, so there is nothing to check')
  assert.equal(await usersWithEmail('kim.lee@example.com'), 0)
})

test('adding an existing user to another organisation adds a membership, not a second user', async () => {
  const { organisation: { id: riverside, name: riversideName }, member } = await givenOrganisationWithMember(services)
  const other = await givenOrganisation(services, { kind: 'provider' })
  const existing = await givenPerson(services, { givenName: 'Patricia', familyName: 'Adebayo', memberOf: [other] })
  const patricia = existing.email
  const http = await signedIn(member)
  assert.equal(await isMemberOf(patricia, riverside), false)
  const emailsBefore = await emailsTo(patricia)

  const confirmed = await addUser(http, riverside, { givenName: 'Pat', familyName: 'Adebayo', email: patricia.toUpperCase() })
  assert.equal(confirmed.status, 303)
  const landed = await http.get(url(`/organisations/${riverside}`))
  assert.ok(landed.text.includes(`Patricia Adebayo has been added to ${riversideName}`))

  assert.equal(await usersWithEmail(patricia), 1, 'still one user')
  assert.equal(await isMemberOf(patricia, riverside), true)
  assert.equal(await isMemberOf(patricia, other.id), true, 'the first membership stays')
  assert.equal((await auditEvents('membership-added', patricia)).length, 1)
  assert.equal(await emailsTo(patricia), emailsBefore + 1)
  const email = await services.latestPlacementsEmail(patricia)
  assert.ok(email?.subject.includes(riversideName))
  assert.match(email?.body ?? '', /Dear Patricia,/, 'the stored name, not the one typed')
})

test('someone already in the organisation cannot be added again', async () => {
  const { organisation, member } = await givenOrganisationWithMember(services)
  const oakwood = organisation.id
  const colleagueMember = await givenPerson(services, { givenName: 'Mary', familyName: 'Lawson', memberOf: [organisation] })
  const mary = colleagueMember.email
  const http = await signedIn(member)
  const emailsBefore = await emailsTo(mary)

  const page = await enterDetails(http, oakwood, { givenName: 'Mary', familyName: 'Lawson', email: mary.toUpperCase() })
  assertFormError(page, 'email', `${mary.toUpperCase()} is already a user at ${organisation.name}`)

  // Someone else adds the person between the details and the confirmation.
  const person = { givenName: 'Sam', familyName: 'Race', email: 'sam.race@example.com' }
  assert.equal((await enterDetails(http, oakwood, person)).status, 303)
  const colleague = await signedIn(colleagueMember)
  assert.equal((await addUser(colleague, oakwood, person)).status, 303)
  const late = await confirm(http, oakwood)
  assertFormError(late, 'email', `sam.race@example.com is already a user at ${organisation.name}`)
  assert.match(late.text, /value="Sam"/)

  assert.equal(await usersWithEmail('sam.race@example.com'), 1)
  assert.equal(await emailsTo('sam.race@example.com'), 1, 'invited once')
  assert.equal(await emailsTo(mary), emailsBefore)
})

test('changing an answer from the check page keeps the other answers', async () => {
  const { organisation: { id: oakwood }, member } = await givenOrganisationWithMember(services)
  const http = await signedIn(member)
  await enterDetails(http, oakwood, { givenName: 'Tom', familyName: 'Brown', email: 'tom.browne@example.com' })

  const check = await http.get(url(`/organisations/${oakwood}/users/check`))
  assert.match(check.text, new RegExp(`href="/organisations/${oakwood}/users/new" class="govuk-back-link"`))
  const change = check.text.match(/<a class="govuk-link" href="([^"]+)">\s*Change<span class="govuk-visually-hidden"> email address<\/span>/)?.[1]
  assert.equal(change, `/organisations/${oakwood}/users/new#email`)

  const form = await http.get(url(change))
  assert.equal(form.status, 200)
  assert.match(form.text, /name="givenName"[^>]*value="Tom"/)
  assert.match(form.text, /name="familyName"[^>]*value="Brown"/)
  assert.match(form.text, /name="email"[^>]*value="tom.browne@example.com"/)

  const changed = await http.post(url(`/organisations/${oakwood}/users/new`), { _csrf: csrfFrom(form.text), givenName: 'Tom', familyName: 'Brown', email: 'tom.brown@example.com' })
  assert.equal(changed.status, 303)
  const checkAgain = await http.get(url(`/organisations/${oakwood}/users/check`))
  assert.match(checkAgain.text, /tom.brown@example.com/)
  assert.doesNotMatch(checkAgain.text, /tom.browne@example.com/)
  assert.match(checkAgain.text, /Tom/)
  assert.match(checkAgain.text, /Brown/)

  assert.equal((await confirm(http, oakwood)).status, 303)
  assert.equal(await usersWithEmail('tom.brown@example.com'), 1)
  assert.equal(await usersWithEmail('tom.browne@example.com'), 0)
})

test('the check page needs answers first, and each organisation has its own answers', async () => {
  const [first, second] = [await givenOrganisation(services), await givenOrganisation(services)]
  const oakwood = first.id
  const riverside = second.id
  const http = await signedIn(await givenPerson(services, { memberOf: [first, second] }))

  const check = await http.get(url(`/organisations/${oakwood}/users/check`))
  assert.equal(check.status, 303)
  assert.equal(check.headers.get('location'), `/organisations/${oakwood}/users/new`)
  const csrf = await csrfOf(http, `/organisations/${oakwood}/users/new`)
  const post = await http.post(url(`/organisations/${oakwood}/users/check`), { _csrf: csrf })
  assert.equal(post.status, 303)
  assert.equal(post.headers.get('location'), `/organisations/${oakwood}/users/new`)

  await enterDetails(http, riverside, { givenName: 'Ria', familyName: 'Patel', email: 'ria.patel@example.com' })
  assert.equal((await http.get(url(`/organisations/${riverside}/users/check`))).status, 200)
  assert.equal((await http.get(url(`/organisations/${oakwood}/users/check`))).status, 303, 'Riverside answers are not Oakwood answers')
  assert.doesNotMatch((await http.get(url(`/organisations/${oakwood}/users/new`))).text, /Ria/)
  assert.equal(await usersWithEmail('ria.patel@example.com'), 0)
})

test('members cannot open or post another organisation\'s pages (404); signed-out people are sent to sign in', async () => {
  const { organisation: { id: riverside }, member: riversideMember } = await givenOrganisationWithMember(services)
  const { organisation: { id: oakwood }, member } = await givenOrganisationWithMember(services)
  const mary = riversideMember.email
  const maryId = riversideMember.user!.id
  const http = await signedIn(member)
  const csrf = await csrfOf(http, `/organisations/${oakwood}/users/new`)
  const person = { givenName: 'Eve', familyName: 'Intruder', email: 'eve.intruder@example.com' }

  const base = `/organisations/${riverside}/users`
  for (const [method, path] of [['GET', '/new'], ['POST', '/new'], ['GET', '/check'], ['POST', '/check'], ['GET', `/${maryId}/remove`], ['POST', `/${maryId}/remove`]]) {
    const response = method === 'GET' ? await http.get(url(base + path)) : await http.post(url(base + path), { _csrf: csrf, ...person })
    assert.equal(response.status, 404, `${method} ${path}`)
    assert.match(response.text, /Page not found/)
  }
  assert.equal(await usersWithEmail(person.email), 0)
  assert.equal(await isMemberOf(mary, riverside), true)

  const signedOut = await new HttpSession().get(url(`/organisations/${oakwood}/users/new`))
  assert.equal(signedOut.status, 303)
  assert.equal(signedOut.headers.get('location'), `/sign-in?return_to=${encodeURIComponent(`/organisations/${oakwood}/users/new`)}`)
})

test('an unknown user, a user not in the organisation or a malformed id gives a 404 remove page', async () => {
  const { organisation: { id: oakwood }, member } = await givenOrganisationWithMember(services)
  const { member: elsewhere } = await givenOrganisationWithMember(services)
  const http = await signedIn(member)
  const csrf = await csrfOf(http, `/organisations/${oakwood}/users/new`)
  for (const id of ['00000000-0000-4000-8000-000000000000', elsewhere.user!.id, await userId(colin), 'not-a-uuid', '%00']) {
    const path = `/organisations/${oakwood}/users/${id}/remove`
    assert.equal((await http.get(url(path))).status, 404, `GET ${id}`)
    assert.equal((await http.post(url(path), { _csrf: csrf })).status, 404, `POST ${id}`)
  }
  assert.equal((await http.get(url('/organisations/not-a-uuid/users/new'))).status, 404)
})

test('members cannot remove themselves: the page and the form are refused, the membership stays', async () => {
  const { organisation: { id: oakwood }, member } = await givenOrganisationWithMember(services)
  const anne = member.email
  const anneId = member.user!.id
  const http = await signedIn(member)
  const emailsBefore = await emailsTo(anne)

  const organisationPage = await http.get(url(`/organisations/${oakwood}`))
  assert.doesNotMatch(organisationPage.text, new RegExp(`/users/${anneId}/remove`), 'no remove link by your own name')

  const page = await http.get(url(`/organisations/${oakwood}/users/${anneId}/remove`))
  assert.equal(page.status, 403)
  assert.match(page.text, /You cannot remove yourself/)
  assert.doesNotMatch(page.text, /govuk-button--warning/)

  const csrf = await csrfOf(http, `/organisations/${oakwood}/users/new`)
  const post = await http.post(url(`/organisations/${oakwood}/users/${anneId}/remove`), { _csrf: csrf })
  assert.equal(post.status, 403)
  assert.equal(await isMemberOf(anne, oakwood), true)
  assert.equal((await auditEvents('membership-removed', anne)).length, 0)
  assert.equal(await emailsTo(anne), emailsBefore)
})

test('removing a member: confirmation page, banner, email, and they lose access at their next request', async () => {
  const { organisation, member } = await givenOrganisationWithMember(services)
  const oakwood = organisation.id
  const other = await givenOrganisation(services, { kind: 'provider' })
  const patricia = (await givenPerson(services, { givenName: 'Patricia', familyName: 'Adebayo', memberOf: [other] })).email
  const http = await signedIn(member)
  await addUser(http, oakwood, { givenName: 'Patricia', familyName: 'Adebayo', email: patricia })
  const patriciaId = await userId(patricia)

  const removed = await signedIn(patricia)
  assert.equal((await removed.get(url(`/organisations/${oakwood}`))).status, 200, 'Patricia can see the organisation before')

  const organisationPage = await http.get(url(`/organisations/${oakwood}`))
  assert.match(organisationPage.text, new RegExp(`href="/organisations/${oakwood}/users/${patriciaId}/remove"`))
  const page = await http.get(url(`/organisations/${oakwood}/users/${patriciaId}/remove`))
  assert.equal(page.status, 200)
  assert.match(page.text, /<title>Are you sure you want to remove Patricia Adebayo\? – Manage school placements – GOV.UK<\/title>/)
  assert.match(page.text, /<h1 class="govuk-heading-l">Are you sure you want to remove Patricia Adebayo\?<\/h1>/)
  assert.match(page.text, /govuk-warning-text/)
  assert.ok(page.text.includes(`will no longer be able to use Manage school placements for ${organisation.name}. We&#39;ll send them an email`))
  assert.match(page.text, new RegExp(`<form method="post" action="/organisations/${oakwood}/users/${patriciaId}/remove"`))
  assert.match(page.text, /govuk-button--warning[^>]*>\s*Remove user/)
  assert.match(page.text, new RegExp(`<a class="govuk-link" href="/organisations/${oakwood}">Cancel</a>`))
  assert.equal(await isMemberOf(patricia, oakwood), true, 'opening the page changes nothing')

  const post = await http.post(url(`/organisations/${oakwood}/users/${patriciaId}/remove`), { _csrf: csrfFrom(page.text) })
  assert.equal(post.status, 303)
  assert.equal(post.headers.get('location'), `/organisations/${oakwood}`)
  const landed = await http.get(url(`/organisations/${oakwood}`))
  assert.match(landed.text, /Patricia Adebayo has been removed/)
  assert.ok(!landed.text.includes(patricia))
  assert.equal(await isMemberOf(patricia, oakwood), false)
  assert.equal(await isMemberOf(patricia, other.id), true, 'other memberships stay')

  const email = await services.latestPlacementsEmail(patricia)
  assert.equal(email?.subject, `You've been removed from ${organisation.name} on Manage school placements`)
  const [audit] = await auditEvents('membership-removed', patricia)
  assert.equal(audit?.actor_user_id, member.user!.id)
  assert.equal(audit?.organisation_id, oakwood)

  assert.equal((await removed.get(url(`/organisations/${oakwood}`))).status, 404, 'her next request no longer reaches the organisation')
  assert.equal((await removed.get(url(`/organisations/${oakwood}/users/new`))).status, 404)

  const twice = await http.post(url(`/organisations/${oakwood}/users/${patriciaId}/remove`), { _csrf: csrfFrom(page.text) })
  assert.equal(twice.status, 404, 'she is no longer a member to remove')
})

test('a missing or forged CSRF token on each form is refused with 403 and changes nothing', async () => {
  const { organisation, member } = await givenOrganisationWithMember(services)
  const oakwood = organisation.id
  const colleague = await givenPerson(services, { memberOf: [organisation] })
  const mary = colleague.email
  const maryId = colleague.user!.id
  const http = await signedIn(member)
  const person = { givenName: 'Fay', familyName: 'Forged', email: 'fay.forged@example.com' }
  const forged = 'x'.repeat(43)

  for (const token of [undefined, forged, '']) {
    const details = await http.post(url(`/organisations/${oakwood}/users/new`), { _csrf: token, ...person })
    assert.equal(details.status, 403)
    assert.equal((await http.get(url(`/organisations/${oakwood}/users/check`))).status, 303, 'no answers saved')
  }

  assert.equal((await enterDetails(http, oakwood, person)).status, 303)
  for (const token of [undefined, forged]) {
    assert.equal((await http.post(url(`/organisations/${oakwood}/users/check`), { _csrf: token })).status, 403)
    assert.equal((await http.post(url(`/organisations/${oakwood}/users/${maryId}/remove`), { _csrf: token })).status, 403)
  }
  // Another session's genuine token is still a forgery here.
  const other = await signedIn(member)
  const othersToken = await csrfOf(other, `/organisations/${oakwood}/users/new`)
  assert.equal((await http.post(url(`/organisations/${oakwood}/users/check`), { _csrf: othersToken })).status, 403)
  assert.equal((await http.post(url(`/organisations/${oakwood}/users/${maryId}/remove`), { _csrf: othersToken })).status, 403)

  assert.equal(await usersWithEmail(person.email), 0)
  assert.equal(await isMemberOf(mary, oakwood), true)
  assert.equal((await http.get(url(`/organisations/${oakwood}/users/check`))).status, 200, 'the answers are still there to confirm')
})

test('bad inputs (duplicated fields, 10,000-character values, control characters, odd paths) never give a 5xx', async () => {
  const { organisation: { id: oakwood }, member } = await givenOrganisationWithMember(services)
  const http = await signedIn(member)
  const csrf = await csrfOf(http, `/organisations/${oakwood}/users/new`)
  const post = (path: string, body: URLSearchParams) => http.request('POST', url(path), body)
  const long = 'a'.repeat(10_000)

  const duplicated = new URLSearchParams([['_csrf', csrf], ['givenName', 'Dee'], ['givenName', 'Dup'], ['familyName', 'Lee'], ['email', 'dee@example.com'], ['email', 'dup@example.com']])
  const page = await post(`/organisations/${oakwood}/users/new`, duplicated)
  assertFormError(page, 'givenName', 'Enter their first name')
  assertFormError(page, 'email', 'Enter their email address')

  // Each field alone fits the 16 KiB body limit and is refused by its rule; all three together are too large a body.
  const bodies: Array<[Person, number]> = [
    [{ givenName: long, familyName: 'Lee', email: 'long@example.com' }, 400],
    [{ givenName: 'Lee', familyName: long, email: 'long@example.com' }, 400],
    [{ givenName: 'Lee', familyName: 'Long', email: long }, 400],
    [{ givenName: long, familyName: long, email: long }, 413],
    [{ givenName: '\u0000\u0001', familyName: '\u202e\u2028', email: 'a@b.c\u0000' }, 400],
    [{ givenName: '\ud800', familyName: '\uffff', email: 'long@example.com\r\nBcc: x@example.com' }, 400]
  ]
  for (const [body, status] of bodies) {
    const response = await post(`/organisations/${oakwood}/users/new`, new URLSearchParams({ _csrf: csrf, ...body }))
    assert.equal(response.status, status, JSON.stringify(body).slice(0, 80))
  }
  const twoTokens = new URLSearchParams([['_csrf', csrf], ['_csrf', csrf]])
  assert.equal((await post(`/organisations/${oakwood}/users/check`, twoTokens)).status, 403)

  for (const path of [`/organisations/${oakwood}/users/%E0%A4%A/remove`, `/organisations/${oakwood}/users/${'9'.repeat(5000)}/remove`, '/organisations/%00/users/new', `/organisations/${oakwood}/users/check?x=${long}`]) {
    const response = await http.get(url(path))
    assert.ok(response.status < 500, `GET ${path.slice(0, 80)}: ${response.status}`)
    const posted = await post(path, new URLSearchParams({ _csrf: csrf }))
    assert.ok(posted.status < 500, `POST ${path.slice(0, 80)}: ${posted.status}`)
  }
  assert.equal(await usersWithEmail('long@example.com'), 0)
})

test('a support user manages any organisation\'s users, and a person removed from their only organisation loses access', async () => {
  const { organisation, member } = await givenOrganisationWithMember(services)
  const oakwood = organisation.id
  const { id: westfield } = await givenOrganisation(services)
  const http = await signedIn(colin)

  assert.equal((await addUser(http, westfield, { givenName: 'Wes', familyName: 'Field', email: 'wes.field@example.com' })).status, 303)
  assert.equal(await isMemberOf('wes.field@example.com', westfield), true)
  const [audit] = await auditEvents('user-invited', 'wes.field@example.com')
  assert.equal(audit?.actor_user_id, await userId(colin))

  const anneSession = await signedIn(member)
  const removed = await remove(http, oakwood, member.user!.id)
  assert.equal(removed.status, 303)
  assert.ok((await http.get(url(`/organisations/${oakwood}`))).text.includes(`${member.givenName} ${member.familyName} has been removed`))
  const next = await anneSession.get(url(`/organisations/${oakwood}`))
  assert.equal(next.status, 303)
  assert.equal(next.headers.get('location'), '/no-access')
  assert.ok((await services.latestPlacementsEmail(member.email))?.subject.includes(`removed from ${organisation.name}`))
})
