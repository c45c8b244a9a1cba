import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../../../test/support/databases.ts'
import { placementsMigrations } from '../../database/migrations.ts'
import type { PlacementsDatabase } from '../../database/schema.ts'
import { recordAudit } from '../../domain/audit.ts'
import { auditTrail, searchOrganisations } from './queries.ts'

/**
 * The support console's reads at size (docs/performance.md): the audit trail's older
 * pages are read from the oldest end, and a large trail's total is PostgreSQL's estimate;
 * the organisation search uses its indexes (migration 0006) with the same answers.
 */
let database: TestDatabase<PlacementsDatabase>
let db: Kysely<PlacementsDatabase>

before(async () => {
  database = await freshDatabase<PlacementsDatabase>({ migrations: placementsMigrations })
  db = database.db
  const start = Date.parse('2026-11-01T09:00:00Z')
  for (let n = 0; n < 123; n++) await recordAudit(db, { event: 'sign-in', email: `person.${n}@example.com` }, new Date(start + n * 1000))
})
after(() => database.drop())

describe('audit trail paging', () => {
  test('every page, read from either end, is the same slice of the trail newest first, the last one short', async () => {
    const all = (await db.selectFrom('audit_events').select('email').orderBy('seq', 'desc').execute()).map((row) => row.email)
    const pageSize = 10
    const seen: Array<string | null> = []
    for (let page = 0; page < 13; page++) {
      const { rows, total, exact } = await auditTrail(db, pageSize, page * pageSize)
      assert.equal(total, 123)
      assert.equal(exact, true)
      assert.deepEqual(rows.map((row) => row.subjectEmail), all.slice(page * pageSize, page * pageSize + pageSize), `page ${page + 1}`)
      seen.push(...rows.map((row) => row.subjectEmail))
    }
    assert.equal(seen.length, 123)
    assert.equal(seen.at(-1), 'person.0@example.com')
  })

  test('keyset pages, forward from the newest and back from the oldest, neither skip nor repeat events that share a timestamp', async () => {
    // Seven events written in the same millisecond, straddling page boundaries.
    const same = new Date('2026-11-01T10:00:00Z')
    for (let n = 0; n < 7; n++) await recordAudit(db, { event: 'sign-out', email: `same.${n}@example.com` }, same)
    try {
      const all = (await db.selectFrom('audit_events').select('email').orderBy('seq', 'desc').execute()).map((row) => row.email)
      const pageSize = 4
      const forward: Array<string | null> = []
      let page = await auditTrail(db, pageSize, 0)
      while (page.rows.length > 0) {
        forward.push(...page.rows.map((row) => row.subjectEmail))
        page = await auditTrail(db, pageSize, 0, { before: page.rows.at(-1)!.seq })
      }
      assert.deepEqual(forward, all)
      const backward: Array<string | null> = []
      page = await auditTrail(db, pageSize, all.length - (all.length % pageSize || pageSize))
      while (page.rows.length > 0) {
        backward.unshift(...page.rows.map((row) => row.subjectEmail))
        page = await auditTrail(db, pageSize, 0, { after: page.rows[0]!.seq })
      }
      assert.deepEqual(backward, all)
      assert.ok(forward.indexOf('same.6@example.com') < forward.indexOf('same.0@example.com'), 'newest first, by the order written')
    } finally {
      await db.deleteFrom('audit_events').where('email', 'like', 'same.%').execute()
    }
  })

  test('a trail PostgreSQL estimates at over 100,000 events shows the estimate, and its last page is still the oldest events', async () => {
    // What ANALYZE would record for a large table, without writing 100,000 rows.
    await sql`analyze audit_events`.execute(db)
    await sql`update pg_class set reltuples = 250000 where oid = 'audit_events'::regclass`.execute(db)
    try {
      const first = await auditTrail(db, 50, 0)
      assert.equal(first.exact, false)
      assert.equal(first.total, 250_000)
      assert.equal(first.rows[0]!.subjectEmail, 'person.122@example.com')
      const last = await auditTrail(db, 50, 249_950)
      assert.deepEqual(last.rows.map((row) => row.subjectEmail).slice(-3), ['person.2@example.com', 'person.1@example.com', 'person.0@example.com'])
    } finally {
      await sql`analyze audit_events`.execute(db)
    }
  })
})

describe('organisation search with its indexes', () => {
  before(async () => {
    const now = new Date()
    await db.insertInto('organisations').values([
      { kind: 'school', name: 'St Mary’s Church of England Primary School', urn: '123456', ukprn: null, provider_code: null, created_at: now },
      { kind: 'provider', name: 'Northfield SCITT', urn: null, ukprn: '10001234', provider_code: '2AB', created_at: now }
    ]).execute()
    await sql`analyze organisations`.execute(db)
  })

  test('part of a name (either apostrophe, any case), a URN, a UKPRN and a provider code in any case each find their organisation', async () => {
    for (const [term, name] of [["mary's church", 'St Mary’s Church of England Primary School'], ['FIELD sc', 'Northfield SCITT'], ['123456', 'St Mary’s Church of England Primary School'], ['10001234', 'Northfield SCITT'], ['2ab', 'Northfield SCITT']]) {
      const { rows, total } = await searchOrganisations(db, term!, 20, 0)
      assert.deepEqual(rows.map((row) => row.name), [name], term)
      assert.equal(total, 1)
    }
  })

  test('a term shaped like a reference finds its organisation by that reference alone; when no organisation has it, it is part of a name', async () => {
    const now = new Date()
    await db.insertInto('organisations').values([
      { kind: 'school', name: 'Holy Trinity Academy 120', urn: '654321', ukprn: null, provider_code: null, created_at: now },
      { kind: 'school', name: 'Unit 2ab School 987654', urn: '765432', ukprn: null, provider_code: null, created_at: now }
    ]).execute()
    try {
      const names = async (term: string) => (await searchOrganisations(db, term, 20, 0)).rows.map((row) => row.name)
      assert.deepEqual(await names('654321'), ['Holy Trinity Academy 120'], 'URN')
      assert.deepEqual(await names('2AB'), ['Northfield SCITT'], 'a provider code in use is the answer, not the names containing it')
      assert.deepEqual(await names('120'), ['Holy Trinity Academy 120'], 'no provider has code 120: part of a name')
      assert.deepEqual(await names('987654'), ['Unit 2ab School 987654'], 'no school has URN 987654: part of a name')
      assert.deepEqual(await names('10009999'), [], 'no UKPRN, no name')
      assert.deepEqual(await searchOrganisations(db, '654321', 20, 20), { rows: [], total: 1 }, 'a second page of one result is empty')
    } finally {
      await db.deleteFrom('organisations').where('urn', 'in', ['654321', '765432']).execute()
    }
  })

  test('a provider code of three letters is searched as part of a name and as a provider code together', async () => {
    const now = new Date()
    await db.insertInto('organisations').values([
      { kind: 'provider', name: 'Lettered SCITT', urn: null, ukprn: '10005555', provider_code: 'QXZ', created_at: now },
      { kind: 'school', name: 'Aqxz Academy', urn: '765433', ukprn: null, provider_code: null, created_at: now }
    ]).execute()
    try {
      const { rows, total } = await searchOrganisations(db, 'qxz', 20, 0)
      assert.deepEqual(rows.map((row) => row.name), ['Aqxz Academy', 'Lettered SCITT'])
      assert.equal(total, 2)
    } finally {
      await db.deleteFrom('organisations').where((eb) => eb.or([eb('ukprn', '=', '10005555'), eb('urn', '=', '765433')])).execute()
    }
  })

  test('a name matched by many organisations: the total on every page, the pages A to Z without gaps, and a page past the end empty', async () => {
    const now = new Date()
    const word = `Pagewood${Date.now() % 100000}`
    await db.insertInto('organisations').values(Array.from({ length: 25 }, (_, n) => (
      { kind: 'school' as const, name: `${word} School ${String(n).padStart(2, '0')}`, urn: String(700000 + n), ukprn: null, provider_code: null, created_at: now }
    ))).execute()
    try {
      const pages = await Promise.all([0, 20, 40].map((offset) => searchOrganisations(db, word.toLowerCase(), 20, offset)))
      assert.deepEqual(pages.map((page) => page.total), [25, 25, 25])
      assert.deepEqual(pages.flatMap((page) => page.rows.map((row) => row.name)), Array.from({ length: 25 }, (_, n) => `${word} School ${String(n).padStart(2, '0')}`))
      assert.deepEqual(pages.map((page) => page.rows.length), [20, 5, 0])
    } finally {
      await db.deleteFrom('organisations').where('name', 'like', `${word}%`).execute()
    }
  })

  test('the trigram index keeps no pending list: every search reads the index alone', async () => {
    const { rows: [index] } = await sql<{ options: string[] | null }>`select reloptions as options from pg_class where relname = 'organisations_name_trigram'`.execute(db)
    assert.deepEqual(index?.options, ['fastupdate=off'])
  })

  test('the name search can use the trigram index, and the provider code its expression index', async () => {
    await sql`set enable_seqscan = off`.execute(db)
    try {
      const plan = (await sql<{ 'QUERY PLAN': string }>`explain select id from organisations where replace(lower(name), '’', '''') like ${'%church of%'} or upper(provider_code) = ${'2AB'}`.execute(db)).rows.map((row) => row['QUERY PLAN']).join('\n')
      assert.match(plan, /organisations_name_trigram/)
      assert.match(plan, /organisations_provider_code_upper/)
    } finally {
      await sql`reset enable_seqscan`.execute(db)
    }
  })
})
