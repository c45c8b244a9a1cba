import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { backend, freshDatabase } from '../../test/support/databases.ts'
import { PreparedStatements, toParameter } from './pglite-dialect.ts'

/**
 * The embedded database's driver (ADR 27): one trip per query, statements kept prepared.
 * Run on both engines: what passes on PGlite must mean the same on a server.
 */
async function withDatabase(run: (db: Kysely<Record<string, Record<string, unknown>>>) => Promise<void>): Promise<void> {
  const database = await freshDatabase<Record<string, Record<string, unknown>>>()
  try {
    await run(database.db)
  } finally {
    await database.drop()
  }
}

/** How many statements this session keeps prepared under the driver's names. */
async function keptStatements(db: Kysely<Record<string, Record<string, unknown>>>): Promise<number> {
  const { rows: [row] } = await sql<{ count: number }>`select count(*)::int as count from pg_prepared_statements where name like 'kept\_%'`.execute(db)
  return row!.count
}

test('parameters of every kind the services send reach PostgreSQL as the same values on both engines', async () => {
  await withDatabase(async (db) => {
    await sql`create table kinds (t text, n int, b boolean, at timestamptz, j jsonb, bytes bytea, tags text[], big bigint)`.execute(db)
    const at = new Date('2026-11-30T01:02:03.456Z')
    const bytes = Uint8Array.from([0, 1, 2, 250, 255])
    await sql`insert into kinds values (${'it\'s "quoted" \\ text'}, ${42}, ${true}, ${at}, ${JSON.stringify({ a: [1, 'two'] })}, ${bytes}, ${['a', 'b "c"', 'd\\e']}, ${'9007199254740993'})`.execute(db)
    const { rows: [row] } = await sql<Record<string, unknown>>`select t, n, b, at, j, bytes, tags, big::text as big from kinds`.execute(db)
    assert.equal(row!.t, 'it\'s "quoted" \\ text')
    assert.equal(row!.n, 42)
    assert.equal(row!.b, true)
    assert.equal((row!.at as Date).toISOString(), at.toISOString())
    assert.deepEqual(row!.j, { a: [1, 'two'] })
    assert.deepEqual(Uint8Array.from(row!.bytes as Uint8Array), bytes)
    assert.deepEqual(row!.tags, ['a', 'b "c"', 'd\\e'])
    assert.equal(row!.big, '9007199254740993')
    const { rows: [nulls] } = await sql<Record<string, unknown>>`select ${null}::text as nothing, ${false}::boolean as no`.execute(db)
    assert.deepEqual(nulls, { nothing: null, no: false })
  })
})

test('a statement run again is kept prepared, and a failing one neither breaks the session nor stays half-made', async () => {
  await withDatabase(async (db) => {
    await sql`create table things (id int primary key, name text)`.execute(db)
    for (let id = 1; id <= 3; id++) await sql`insert into things (id, name) values (${id}, ${`thing ${id}`})`.execute(db)
    if (backend === 'pglite') assert.equal(await keptStatements(db), 2, 'the insert and the count itself, each once')
    // A unique violation: the statement is fine and stays; the error is PostgreSQL's own.
    await assert.rejects(sql`insert into things (id, name) values (${1}, ${'again'})`.execute(db), { code: '23505' })
    // A statement that cannot be prepared: refused, and nothing of it left behind.
    await assert.rejects(sql`select no_such_column from things where id = ${1}`.execute(db), { code: '42703' })
    await assert.rejects(sql`select no_such_column from things where id = ${1}`.execute(db), { code: '42703' })
    const { rows } = await sql<{ name: string }>`select name from things where id = ${2}`.execute(db)
    assert.deepEqual(rows, [{ name: 'thing 2' }])
    if (backend === 'pglite') assert.equal(await keptStatements(db), 3, 'the insert, the count and the select by id; not the failed one')
  })
})

test('a failed transaction rolls back and the kept statements still work after it', async () => {
  await withDatabase(async (db) => {
    await sql`create table counts (id int primary key, n int not null)`.execute(db)
    await sql`insert into counts values (${1}, ${0})`.execute(db)
    await assert.rejects(db.transaction().execute(async (trx) => {
      await sql`update counts set n = n + 1 where id = ${1}`.execute(trx)
      await sql`select 1 / ${0}::int`.execute(trx)
    }), { code: '22012' })
    await sql`update counts set n = n + 1 where id = ${1}`.execute(db)
    const { rows } = await sql<{ n: number }>`select n from counts where id = ${1}`.execute(db)
    assert.deepEqual(rows, [{ n: 1 }], 'the rolled-back update did not count; the one after it did')
  })
})

test('a table that changes shape under a kept "select *" is read again, with its new column', async () => {
  await withDatabase(async (db) => {
    await sql`create table shapes (id int)`.execute(db)
    await sql`insert into shapes values (1)`.execute(db)
    const before = await sql<Record<string, unknown>>`select * from shapes where id = ${1}`.execute(db)
    assert.deepEqual(before.rows, [{ id: 1 }])
    await sql`alter table shapes add column label text default 'new'`.execute(db)
    const after = await sql<Record<string, unknown>>`select * from shapes where id = ${1}`.execute(db)
    assert.deepEqual(after.rows, [{ id: 1, label: 'new' }])
  })
})

test('the kept statements are the most recently used, up to the limit; the others are closed with the next query', () => {
  const statements = new PreparedStatements(2)
  const first = statements.nameFor('select 1')
  const second = statements.nameFor('select 2')
  assert.equal(first.isNew, true)
  assert.deepEqual(statements.nameFor('select 1'), { name: first.name, isNew: false })
  statements.nameFor('select 3')
  assert.equal(statements.size, 2)
  assert.equal(statements.takeClosings().length, 1, 'select 2, the least recently used, is closed')
  assert.equal(statements.nameFor('select 2').isNew, true)
  assert.notEqual(statements.nameFor('select 2').name, second.name)
  assert.deepEqual(statements.nameFor('begin'), { name: undefined, isNew: false }, 'transaction control and DDL are never kept')
  assert.deepEqual(statements.nameFor('create table x (a int)'), { name: undefined, isNew: false })
})

test('parameters are sent as node-postgres sends them: text, bytes as bytes, arrays as array literals', () => {
  assert.equal(toParameter(null), null)
  assert.equal(toParameter(undefined), null)
  assert.equal(toParameter(7), '7')
  assert.equal(toParameter(10n), '10')
  assert.equal(toParameter(false), 'false')
  assert.equal(toParameter(new Date('2026-01-02T03:04:05.006Z')), '2026-01-02T03:04:05.006Z')
  assert.equal(toParameter({ a: 1 }), '{"a":1}')
  assert.equal(toParameter(['x', null, ['y']]), '{"x",NULL,{"y"}}')
  const bytes = Uint8Array.from([1, 2])
  assert.equal(toParameter(bytes), bytes)
})
