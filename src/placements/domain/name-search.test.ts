import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { placementsMigrations } from '../database/migrations.ts'
import type { PlacementsDatabase } from '../database/schema.ts'
import { searchOrganisations } from '../pages/support/queries.ts'
import { countsFromWords, likeTrigrams, normaliseName, rarePieces, trigramCounts, type TrigramCounts } from './name-search.ts'

/** The counts once a background count has finished (each turn a query, queued behind the count's). */
async function counted(db: Kysely<PlacementsDatabase>, now: number, before = trigramCounts(db, now)): Promise<TrigramCounts> {
  let counts = before
  for (let turn = 0; turn < 200 && counts === before; turn++) {
    await sql`select 1`.execute(db)
    counts = trigramCounts(db, now)
  }
  return counts
}

/** Searching by part of a name through the term's rare pieces (ADR 20, ADR 25): a choice of plan, never of answer. */
const counts = countsFromWords(30_000, [['oakwood', 1000], ['beechwood', 1000], ['primary', 11_000], ['school', 20_000], ['12', 240], ['120', 240], ['st', 2000], ['mary', 1000], ['s', 2000], ['castle', 1000], ['view', 1000], ['community', 3600], ['8', 240], ['80', 240]])

describe('the trigrams of a term, as pg_trgm reads a LIKE pattern', () => {
  test('a word after a separator starts a word, one before a separator ends one; each trigram with the shortest piece of the term that gives it', () => {
    assert.deepEqual(likeTrigrams('kwood primary').map((t) => [t.trigram, t.piece]), [
      ['kwo', 'kwo'], ['woo', 'woo'], ['ood', 'ood'], ['od ', 'od '],
      ['  p', ' p'], [' pr', ' pr'], ['pri', 'pri'], ['rim', 'rim'], ['ima', 'ima'], ['mar', 'mar'], ['ary', 'ary']
    ])
    assert.deepEqual(likeTrigrams("y's 1").map((t) => [t.trigram, t.piece]), [['  s', "'s"], [' s ', "'s "], ['  1', ' 1']], 'a letter alone at the start has no trigram')
  })

  test('counted from the words of the names: a trigram in as many names as the words that have it', () => {
    assert.equal(counts.trigrams.get('woo'), 2000, 'oakwood and beechwood')
    assert.equal(counts.trigrams.get('  1'), 480, '12 and 120')
    assert.equal(counts.trigrams.get('12 '), 240)
  })
})

describe('the pieces of a term given to the index', () => {
  test("each word's rarest piece, rarest words first, while they rule out more rows than their lists cost", () => {
    assert.deepEqual(rarePieces('kwood primary school 12', counts), [' 1', 'kwo'])
    assert.deepEqual(rarePieces("st mary's primary", counts), [' m', 'st '])
    assert.deepEqual(rarePieces('tle view community school 8', counts), [' 8', 'tle', ' v'], 'words found together (castle view) still leave the number to narrow by')
    assert.deepEqual(rarePieces('primary schoox', counts), ['oox'], 'a trigram in no name: nothing to read')
  })

  test('every piece is a piece of the term, so a name with the term has every piece', () => {
    for (const term of ['kwood primary school 12', "mary's primary school", 'wood primary school', 'tle view community school 8']) {
      for (const piece of rarePieces(term, counts)) assert.ok(term.includes(piece), `${piece} in ${term}`)
    }
  })

  test('no piece much cheaper than the whole term, or none with a trigram: the whole term', () => {
    assert.deepEqual(rarePieces('primary school', counts), [])
    assert.deepEqual(rarePieces('oakwood', counts), [], 'one word: its rarest trigram finds as many rows as the whole word')
    assert.deepEqual(rarePieces('ary', counts), [], 'a lone word can be inside any word: primary')
    assert.deepEqual(rarePieces('kwood 12', { ...counts, organisations: 120 }), [], 'words as common as the names are many: not rare')
    assert.deepEqual(rarePieces('zz', counts), [])
    assert.deepEqual(rarePieces('', counts), [])
    assert.deepEqual(rarePieces('kwood 12', { organisations: 0, trigrams: new Map() }), [], 'no counts')
  })
})

describe('searching with the pieces finds what the whole term finds', () => {
  let database: TestDatabase<PlacementsDatabase>
  let db: Kysely<PlacementsDatabase>
  const places = ['Oakwood', 'Riverside', 'St Mary’s', 'Northfield', 'Beechwood', 'Kingsmead']
  const kinds = ['Primary School', 'Academy', 'Church of England Primary School', 'SCITT']
  const names = Array.from({ length: 120 }, (_, n) => `${places[n % places.length]} ${kinds[Math.floor(n / places.length) % kinds.length]} ${n + 10}`)

  before(async () => {
    database = await freshDatabase<PlacementsDatabase>({ migrations: placementsMigrations })
    db = database.db
    const now = new Date()
    await db.insertInto('organisations').values(names.map((name, n) => ({ kind: 'school' as const, name, urn: String(200000 + n), ukprn: null, provider_code: null, created_at: now }))).execute()
    await sql`analyze organisations`.execute(db)
  })
  after(() => database.drop())

  test('for pieces of names cut anywhere, the same organisations as comparing every name', async () => {
    const known = await counted(db, Date.now())
    assert.equal(known.organisations, 120)
    let withPieces = 0
    for (const [n, name] of names.entries()) {
      const from = (n * 7) % 9
      const term = name.slice(from, from + 6 + (n % 17)).toLowerCase()
      if (term.trim() === '' || /^[0-9]{6}$|^[0-9]{8}$/.test(term)) continue
      if (rarePieces(normaliseName(term), known).length > 0) withPieces++
      const { rows, total } = await searchOrganisations(db, term, 1000, 0)
      const expected = names.filter((candidate) => normaliseName(candidate).includes(normaliseName(term)))
      assert.deepEqual(rows.map((row) => row.name).sort(), expected.sort(), term)
      assert.equal(total, expected.length, term)
    }
    assert.ok(withPieces > 20, `the rare-word path was taken (${withPieces} times)`)
  })

  test('the first search does not wait for the counts; they are kept ten minutes, then recounted while the old ones serve', async () => {
    // A handle of its own (same database, same connection), so no other test's searches share its counts.
    const own = db.withoutPlugins()
    const start = Date.parse('2026-11-29T09:00:00Z')
    assert.equal(trigramCounts(own, start).organisations, 0, 'nothing counted yet: the whole term goes to the index')
    const first = await counted(own, start)
    assert.equal(first.organisations, 120)
    await db.insertInto('organisations').values({ kind: 'school', name: 'Zanzibar Recount School', urn: '299999', ukprn: null, provider_code: null, created_at: new Date() }).execute()
    try {
      assert.equal(trigramCounts(own, start + 9 * 60_000), first, 'kept')
      assert.equal(trigramCounts(own, start + 10 * 60_000), first, 'the old counts serve while recounting')
      const recounted = await counted(own, start + 10 * 60_000, first)
      assert.equal(recounted.trigrams.get('zan'), 1)
      assert.equal(recounted.organisations, 121)
    } finally {
      await db.deleteFrom('organisations').where('urn', '=', '299999').execute()
    }
  })
})
