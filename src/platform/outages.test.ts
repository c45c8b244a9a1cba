import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { after, before, test } from 'node:test'
import express from 'express'
import { sql, type Kysely } from 'kysely'
import { freePort, startRedisServer, type RedisServer } from '../../test/support/backing-servers.ts'
import { backend, freshDatabase, type TestDatabase } from '../../test/support/databases.ts'
import { pageTitle } from '../../test/support/signin-pages.ts'
import { openDatabase } from './database.ts'
import { isOutage } from './outages.ts'
import { errorPages } from './security.ts'
import { connectRedis } from './short-lived-store.ts'
import { useViews } from './views.ts'

// What counts as an outage (503, "service unavailable") and what stays a bug (500),
// judged on the errors the real clients throw.
let database: TestDatabase<unknown>
let redis: RedisServer
let silent: Server
let silentPort: number
const sockets: Socket[] = []

before(async () => {
  database = await freshDatabase<unknown>()
  redis = await startRedisServer()
  // Takes connections and never says a word: a server that hangs.
  silent = createServer((socket) => { sockets.push(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  silentPort = (silent.address() as { port: number }).port
})
after(async () => {
  await database.drop()
  await redis.destroy()
  for (const socket of sockets) socket.destroy()
  await new Promise((resolve) => silent.close(resolve))
})

async function errorOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work()
  } catch (error) {
    return error
  }
  throw new Error('expected an error')
}

async function withDatabase<T>(url: string, work: (db: Kysely<unknown>) => Promise<T>, connectTimeoutMs?: number): Promise<T> {
  const db = await openDatabase<unknown>({ url }, { connectTimeoutMs })
  try {
    return await work(db)
  } finally {
    await db.destroy()
  }
}

test('a PostgreSQL server that is not there, or does not answer within the connect timeout, is an outage', async () => {
  const closedPort = await freePort()
  const refused = await errorOf(() => withDatabase(`postgres://postgres@127.0.0.1:${closedPort}/x`, (db) => sql`select 1`.execute(db)))
  assert.ok(isOutage(refused), String(refused))
  const started = performance.now()
  const hanging = await errorOf(() => withDatabase(`postgres://postgres@127.0.0.1:${silentPort}/x`, (db) => sql`select 1`.execute(db), 200))
  assert.ok(performance.now() - started < 2000, 'the connect timeout bounds the wait')
  assert.ok(isOutage(hanging), String(hanging))
})

test('a connection the server ends (an administrator, a restart: 57P01) is an outage', { skip: backend !== 'postgres' && 'needs the PostgreSQL server' }, async () => {
  // On a pool of its own: a connection ended in the shared pool was handed, dead, to the
  // next test that used it ("Connection terminated unexpectedly").
  const own = await database.connectAnother()
  const terminated = await errorOf(() => sql`select pg_terminate_backend(pg_backend_pid())`.execute(own))
  assert.equal((terminated as { code?: string }).code, '57P01')
  assert.ok(isOutage(terminated))
})

test('Redis unreachable: a command fails at once, as an outage, rather than wait in a queue', async () => {
  const client = connectRedis(redis.url, { commandTimeoutMs: 300 })
  try {
    assert.equal(await client.ping(), 'PONG')
    await redis.stop()
    const started = performance.now()
    const down = await errorOf(() => client.get('anything'))
    assert.ok(performance.now() - started < 500, 'no waiting for a reconnection')
    assert.ok(isOutage(down), String(down))
  } finally {
    client.disconnect()
    await redis.start()
  }
  // Before the first connection commands wait for it, bounded by the command timeout.
  const never = connectRedis(`redis://127.0.0.1:${silentPort}`, { commandTimeoutMs: 200 })
  try {
    const timedOut = await errorOf(() => never.get('anything'))
    assert.ok(isOutage(timedOut), String(timedOut))
  } finally {
    never.disconnect()
  }
})

test('mistakes are not outages: bad SQL, a broken constraint, a programming error', async () => {
  const db = database.db
  await sql`create table outage_check (id int primary key)`.execute(db)
  await sql`insert into outage_check values (1)`.execute(db)
  const duplicate = await errorOf(() => sql`insert into outage_check values (1)`.execute(db))
  assert.equal((duplicate as { code?: string }).code, '23505')
  const syntax = await errorOf(() => sql`selec 1`.execute(db))
  for (const error of [duplicate, syntax, new TypeError('x is undefined'), new Error('Connection refused by policy'), undefined, 'text']) {
    assert.equal(isOutage(error), false, String(error))
  }
})

test('an outage is answered with the service unavailable page (503, Retry-After); any other error keeps the 500 page', async () => {
  const app = express()
  useViews(app, import.meta.dirname, { productName: 'Test service', productUrl: '/' })
  const unreachable = `postgres://postgres@127.0.0.1:${await freePort()}/x`
  app.get('/outage', async () => { await withDatabase(unreachable, (db) => sql`select 1`.execute(db)) })
  app.get('/bug', async () => { await sql`selec 1`.execute(database.db) })
  app.use(errorPages({ log: () => {} }))
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  try {
    const outage = await fetch(`${base}/outage`)
    assert.equal(outage.status, 503)
    assert.equal(outage.headers.get('retry-after'), '30')
    assert.equal(outage.headers.get('cache-control'), 'no-store')
    assert.equal(pageTitle(await outage.text()), 'Sorry, the service is unavailable – Test service – GOV.UK')
    const bug = await fetch(`${base}/bug`)
    assert.equal(bug.status, 500)
    assert.equal(bug.headers.get('retry-after'), null)
    assert.equal(pageTitle(await bug.text()), 'Sorry, there is a problem with the service – Test service – GOV.UK')
  } finally {
    server.close()
  }
})
