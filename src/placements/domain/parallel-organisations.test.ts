import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { placementsMigrations } from '../database/migrations.ts'
import type { PlacementsDatabase } from '../database/schema.ts'
import { addOrganisation, type ActionContext, type NewOrganisation } from './actions.ts'

// An organisation's URN, UKPRN and provider code are unique, and two support users
// adding the same organisation at the same moment are told it exists, never shown a 500.
// On the PostgreSQL server the 40 transactions really run side by side, so both the
// checks and the unique index's answer are exercised; PGlite runs them one at a time.
let database: TestDatabase<PlacementsDatabase>
let c: ActionContext
before(async () => {
  database = await freshDatabase<PlacementsDatabase>({ migrations: placementsMigrations })
  c = { db: database.db, now: new Date(), email: { serviceName: 'Manage school placements', publicUrl: 'https://placements.example', identityProviderName: 'DfE Sign-in', support: { email: 'support@placements.example', responseTime: 'We aim to respond within 2 working days.' } } }
})
after(() => database.drop())

const cases: Array<[string, (i: number) => NewOrganisation, string]> = [
  ['URN', (i) => ({ kind: 'school', name: `Same School ${i}`, urn: '777001' }), 'urn'],
  ['UKPRN', (i) => ({ kind: 'provider', name: `Same Provider ${i}`, ukprn: '10777001', providerCode: `Q${String(i).padStart(2, '0')}` }), 'ukprn'],
  ['provider code', (i) => ({ kind: 'provider', name: `Same Code ${i}`, ukprn: String(10777100 + i), providerCode: i % 2 ? 'z9x' : 'Z9X' }), 'providerCode']
]

for (const [what, organisation, field] of cases) {
  test(`40 organisations with the same ${what} added at once: one is added, 39 are told it exists, none fails`, async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => addOrganisation(c, null, organisation(i))))
    const failed = outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))
    assert.deepEqual(failed, [], 'no exception escapes')
    const results = outcomes.map((o) => (o as PromiseFulfilledResult<Awaited<ReturnType<typeof addOrganisation>>>).value)
    assert.equal(results.filter((r) => r.outcome === 'added').length, 1)
    assert.deepEqual(new Set(results.filter((r) => r.outcome === 'duplicate').map((r) => r.outcome === 'duplicate' && r.field)), new Set([field]))
  })
}
