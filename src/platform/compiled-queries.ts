import { createQueryId, type Compilable, type CompiledQuery } from 'kysely'

/** A Kysely database or transaction: anything that can run a compiled query. */
interface Runs { executeQuery: <Row>(query: CompiledQuery<Row>) => Promise<{ rows: Row[] }> }

/**
 * A query Kysely builds and compiles once per database (or transaction), then runs with
 * each call's values. Building and compiling cost about as much CPU as reading the answer
 * of a query asked on every page (ADR 22). `slots` are stand-in values, one per parameter:
 * the compiled query must take exactly them, in order, or giving the real values in their
 * place would be wrong, so that is checked when it is compiled.
 */
export function compiledOnce<Db extends Runs & object, Row, Values extends unknown[]>(
  build: (db: Db, ...values: Values) => Compilable<Row>, slots: Values
): (db: Db, ...values: Values) => Promise<Row[]> {
  const compiled = new WeakMap<Db, CompiledQuery<Row>>()
  return async (db, ...values) => {
    let query = compiled.get(db)
    if (!query) {
      query = build(db, ...slots).compile()
      if (query.parameters.length !== slots.length || query.parameters.some((parameter, i) => parameter !== slots[i])) {
        throw new Error(`A query compiled once must take its ${slots.length} value(s) as its parameters, in order: ${query.sql}`)
      }
      compiled.set(db, query)
    }
    const { rows } = await db.executeQuery<Row>({ ...query, parameters: values, queryId: createQueryId() })
    return rows
  }
}
