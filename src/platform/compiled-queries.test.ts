import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../test/support/databases.ts'
import { compiledOnce } from './compiled-queries.ts'

interface Schema { things: { id: number, colour: string } }
let database: TestDatabase<Schema>
before(async () => {
  database = await freshDatabase<Schema>()
  await sql`create table things (id int primary key, colour text not null)`.execute(database.db)
  await sql`insert into things values (1, 'red'), (2, 'blue'), (3, 'red')`.execute(database.db)
})
after(() => database.drop())

test('a query compiled once answers each call with that call\'s values, on the database and in a transaction', async () => {
  const byColour = compiledOnce((db: Kysely<Schema>, colour: string, above: number) =>
    db.selectFrom('things').select('id').where('colour', '=', colour).where('id', '>', above).orderBy('id'), ['slot', -1])
  assert.deepEqual(await byColour(database.db, 'red', 0), [{ id: 1 }, { id: 3 }])
  assert.deepEqual(await byColour(database.db, 'red', 1), [{ id: 3 }])
  assert.deepEqual(await byColour(database.db, 'blue', 0), [{ id: 2 }])
  assert.deepEqual(await database.db.transaction().execute((trx) => byColour(trx, 'blue', 2)), [])
})

test('a query whose parameters are not exactly its values, in order, is refused before it runs', async () => {
  // A constant the builder adds becomes a parameter too: giving only the caller's values would shift them.
  const withConstant = compiledOnce((db: Kysely<Schema>, colour: string) =>
    db.selectFrom('things').select('id').where('colour', '=', colour).where('id', '<', 10), ['slot'])
  await assert.rejects(withConstant(database.db, 'red'), /must take its 1 value\(s\) as its parameters/)
  const swapped = compiledOnce((db: Kysely<Schema>, colour: string, above: number) =>
    db.selectFrom('things').select('id').where('id', '>', above).where('colour', '=', colour), ['slot', -1])
  await assert.rejects(swapped(database.db, 'red', 0), /in order/)
})
