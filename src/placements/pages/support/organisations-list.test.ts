import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { HttpSession } from '../../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../../test/support/placements.ts'
import { signInToPlacements } from '../../../../test/support/placements-flow.ts'
import { countOrganisations, decode, demoOrganisationId, tableRows } from '../../../../test/support/support-console.ts'

/**
 * The support console's list of organisations: paging and search over the demo data's 28
 * organisations. Nothing here changes data, so these tests have services of their own and
 * can count on the seeded list in any order; adding organisations is in support.test.ts.
 */
let services: TestServices
let colin: HttpSession

before(async () => {
  services = await startTestServices()
  colin = new HttpSession()
  const landing = await signInToPlacements(colin, services.placements.url, 'colin.chapman@education.gov.uk')
  assert.equal(landing.status, 200)
})
after(() => services.close())

const get = (http: HttpSession, path: string) => http.get(new URL(path, services.placements.url))

const anneOrganisation = () => demoOrganisationId(services, 'Oakwood Primary School')
const organisationCount = () => countOrganisations(services)

test('lists every organisation A to Z, 20 a page, each linking to its page', async () => {
  const page = await get(colin, '/support/organisations')
  assert.equal(page.status, 200)
  const rows = tableRows(page.text)
  assert.equal(rows.length, 20)
  assert.match(rows[0]!, /^Ashgrove Junior School School URN 114567/)
  assert.ok(rows.some((row) => /^Best Practice Network Teacher training provider UKPRN 10000123 1BN$/.test(row)), rows.join('\n'))
  assert.match(page.text, /Showing 1 to 20 of 28 results/)
  const oakwood = await anneOrganisation()
  assert.match(page.text, new RegExp(`<a class="govuk-link" href="/organisations/${oakwood}">Oakwood Primary School</a>`))
  assert.match(page.text, /href="\/support\/organisations\/new"[^>]*>\s*Add organisation/)
  assert.match(page.text, /class="govuk-pagination"/)
  assert.match(page.text, /href="\/support\/organisations\?page=2"/)

  const organisationPage = await get(colin, `/organisations/${oakwood}`)
  assert.equal(organisationPage.status, 200)
  assert.match(organisationPage.text, /anne.wilson@example.com/)
})

test('page 2 has the rest; a page that cannot exist is not found, never an error', async () => {
  const second = await get(colin, '/support/organisations?page=2')
  assert.equal(second.status, 200)
  assert.equal(tableRows(second.text).length, 8)
  assert.match(second.text, /Showing 21 to 28 of 28 results/)
  assert.match(second.text, /Westfield Academy/)
  assert.match(second.text, /href="\/support\/organisations"[^>]*rel="prev"|rel="prev"[^>]*href="\/support\/organisations"/)
  for (const page of ['999', '3', '0', '-1', 'abc', '1.5', '1e3', '99999999999999999999', '%00']) {
    const response = await get(colin, `/support/organisations?page=${page}`)
    assert.equal(response.status, 404, `page=${page}`)
  }
  assert.equal((await get(colin, '/support/organisations?page=1&page=2')).status, 404)
})

test('search matches part of a name in any case, or a URN, UKPRN or provider code', async () => {
  const cases: Array<[string, string[]]> = [
    ['oakWOOD', ['Oakwood Primary School']],
    ['136790', ['Oakwood Primary School']],
    ['10065432', ['North West Teacher Training Partnership']],
    ['1bn', ['Best Practice Network']],
    ['S45', ['University of Southshire']],
    ["st mary's", ['St Mary’s Church of England Primary School']],
    ['  scitt  ', ['Midlands SCITT']],
    ['1367', []],
    ['%', []],
    ['_', []]
  ]
  for (const [q, expected] of cases) {
    const page = await get(colin, `/support/organisations?q=${encodeURIComponent(q)}`)
    assert.equal(page.status, 200, q)
    const names = tableRows(page.text).map((row) => decode(row).replace(/ (School|Teacher training provider) (URN|UKPRN) .*$/, ''))
    assert.deepEqual(names, expected, q)
    if (expected.length === 0) assert.match(decode(page.text), /No organisations match/)
  }
})

test('a long search keeps to one page of results and its links keep the search', async () => {
  const page = await get(colin, '/support/organisations?q=e')
  assert.equal(page.status, 200)
  assert.equal(tableRows(page.text).length, 20)
  assert.match(page.text, /href="\/support\/organisations\?q=e&amp;page=2"/)
  const second = await get(colin, '/support/organisations?q=e&page=2')
  assert.equal(second.status, 200)
  assert.ok(tableRows(second.text).length > 0)
})

test('odd searches are bounded, escaped and never an error', async () => {
  const long = await get(colin, `/support/organisations?q=${'a'.repeat(5000)}`)
  assert.equal(long.status, 200)
  assert.equal(long.text.match(/<input[^>]*id="q"[^>]*value="([^"]*)"/)?.[1], 'a'.repeat(100))
  const script = await get(colin, `/support/organisations?q=${encodeURIComponent('<script>alert(1)</script>')}`)
  assert.equal(script.status, 200)
  assert.doesNotMatch(script.text, /<script>alert/)
  for (const query of ['q=a&q=b', 'q[x]=1', 'q=%00', 'q=%E2%80%A8', 'q=%ff', "q='; drop table organisations; --", 'q=\\']) {
    const response = await get(colin, `/support/organisations?${query}`)
    assert.ok(response.status < 500, `${query}: ${response.status}`)
  }
  assert.equal(await organisationCount(), 28)
})
