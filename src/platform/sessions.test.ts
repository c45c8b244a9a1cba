import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import express from 'express'
import type { Kysely } from 'kysely'
import type { Redis } from 'ioredis'
import { freshDatabase, redisSettings, type TestDatabase } from '../../test/support/databases.ts'
import { HttpSession } from '../../test/support/http-client.ts'
import { FakeClock } from './clock.ts'
import { migrate } from './database.ts'
import { sessions } from './sessions.ts'
import { connectRedis, PostgresShortLivedStore, RedisShortLivedStore, shortLivedMigration, type ShortLivedStore, type ShortLivedTable } from './short-lived-store.ts'

// Server-side sessions (docs/security.md, "sessions") on a small app over real HTTP, with the
// real short-lived store (PostgreSQL table, or Redis when REDIS_URL is set).
const idleSeconds = 20 * 60
const absoluteSeconds = 12 * 3600
const cookieName = 'test-session'
const clock = new FakeClock()
let database: TestDatabase<ShortLivedTable>
let redis: Redis | undefined
let prefix: string
let store: ShortLivedStore
let server: http.Server
let url: string
let writes = 0

before(async () => {
  database = await freshDatabase<ShortLivedTable>()
  await migrate(database.db as Kysely<unknown>, { '0001-short-lived': shortLivedMigration })
  const settings = redisSettings()
  prefix = settings.redisPrefix
  redis = settings.redisUrl ? connectRedis(settings.redisUrl) : undefined
  store = redis ? new RedisShortLivedStore(redis, prefix) : new PostgresShortLivedStore(database.db, clock)

  const app = express()
  // Counts the writes, to prove a request that changes nothing is not written back.
  const counted: ShortLivedStore = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'set') return (...args: Parameters<ShortLivedStore['set']>) => { writes++; return target.set(...args) }
      const value: unknown = Reflect.get(target, property, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  app.use(sessions({ cookieName, secure: false, idleTimeoutSeconds: idleSeconds, absoluteTimeoutSeconds: absoluteSeconds, store: counted, clock }))
  app.get('/set', (req, res) => {
    req.session.set('value', String(req.query.value))
    res.send('set')
  })
  app.get('/get', (req, res) => {
    res.json({ value: req.session.get('value') ?? null, ended: req.session.ended ?? null })
  })
  app.get('/sign-in', (req, res) => {
    req.session.regenerate({ value: req.session.get('value') })
    res.send('signed in')
  })
  app.get('/sign-out', (req, res) => {
    req.session.destroy()
    res.send('signed out')
  })
  server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://localhost:${(server.address() as AddressInfo).port}`
})

after(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  redis?.disconnect()
  await database.drop()
})

async function read(browser: HttpSession): Promise<{ value: string | null, ended: string | null }> {
  const response = await browser.get(`${url}/get`)
  assert.equal(response.status, 200)
  return JSON.parse(response.text) as { value: string | null, ended: string | null }
}

const storeKey = (id: string) => 'session:' + createHash('sha256').update(id).digest('base64url')

/** Everything the store holds, as text: keys and values. */
async function storeContents(): Promise<string> {
  if (redis) {
    const keys = await redis.keys(`${prefix}*`)
    const values = keys.length ? await redis.mget(...keys) : []
    return JSON.stringify({ keys, values })
  }
  return JSON.stringify(await database.db.selectFrom('short_lived').selectAll().execute())
}

test('a session carries data between requests under an opaque id in an HttpOnly, SameSite=Lax cookie', async () => {
  const browser = new HttpSession()
  const set = await browser.get(`${url}/set?value=hello`)
  const header = set.headers.getSetCookie().find((h) => h.startsWith(`${cookieName}=`))!
  assert.match(header, /^test-session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/)
  assert.deepEqual(await read(browser), { value: 'hello', ended: null })
})

test('the idle timeout: 20 minutes (at most 21) without a request ends the session on the server', async () => {
  const browser = new HttpSession()
  await browser.get(`${url}/set?value=busy`)
  const id = browser.cookie(cookieName)!
  // Requests keep it alive well past 20 minutes in all.
  for (let i = 0; i < 3; i++) {
    clock.advanceSeconds(idleSeconds - 60)
    assert.equal((await read(browser)).value, 'busy', `after ${(i + 1) * 19} minutes of activity`)
  }
  clock.advanceSeconds(idleSeconds + 60)
  const stale = await read(browser)
  assert.equal(stale.value, null, 'idle for 21 minutes: the data is gone')
  assert.equal(stale.ended, 'idle', 'and the request is told why (for "You have been signed out")')
  assert.equal(await store.get(storeKey(id)), undefined, 'removed from the store')
  const replay = await new HttpSession().get(`${url}/get`, { cookie: `${cookieName}=${id}` })
  assert.deepEqual(JSON.parse(replay.text), { value: null, ended: null }, 'the old id is simply unknown now')
})

test('a request within a minute of the last write that changes nothing is not written back; the session still ends 20 to 21 minutes after the last request', async () => {
  const browser = new HttpSession()
  await browser.get(`${url}/set?value=quiet`)
  const first = writes
  clock.advanceSeconds(59)
  assert.equal((await read(browser)).value, 'quiet')
  assert.equal(writes, first, 'nothing changed within the minute: no write')
  await browser.get(`${url}/set?value=changed`)
  assert.equal(writes, first + 1, 'a change is always written')
  clock.advanceSeconds(61)
  await read(browser)
  assert.equal(writes, first + 2, 'over a minute since the last write: the last-seen time is written')

  // Any read that finds the session alive writes it again, so each case uses its own session.
  async function idleSessionAfter(lastRequestWritten: boolean, idle: number): Promise<string | null> {
    const browser = new HttpSession()
    await browser.get(`${url}/set?value=idle`)
    if (!lastRequestWritten) {
      clock.advanceSeconds(59)
      await read(browser)
    }
    clock.advanceSeconds(idle)
    return (await read(browser)).ended
  }
  // Last request not written (59 s after the write): ends 20 minutes and 1 second after it.
  assert.equal(await idleSessionAfter(false, idleSeconds), null, 'unwritten last request, 20 minutes later: still there')
  assert.equal(await idleSessionAfter(false, idleSeconds + 1), 'idle', 'unwritten last request, 20 minutes and 1 second later: ended')
  // Last request written: ends 21 minutes after it, never later.
  assert.equal(await idleSessionAfter(true, idleSeconds + 59), null, 'written last request, 20 min 59 s later: still there')
  assert.equal(await idleSessionAfter(true, idleSeconds + 60), 'idle', 'written last request, 21 minutes later: ended')
})

test('the absolute timeout: 12 hours after it began, however busy, the session ends', async () => {
  const browser = new HttpSession()
  await browser.get(`${url}/set?value=long-day`)
  const step = 15 * 60
  for (let elapsed = step; elapsed < absoluteSeconds; elapsed += step) {
    clock.advanceSeconds(step)
    assert.equal((await read(browser)).value, 'long-day', `after ${elapsed / 3600} hours`)
  }
  clock.advanceSeconds(step)
  const ended = await read(browser)
  assert.deepEqual(ended, { value: null, ended: 'absolute' })
})

test('regenerate (at sign-in) gives a new id, keeps what it is told to, and the old id no longer works', async () => {
  const browser = new HttpSession()
  await browser.get(`${url}/set?value=carried`)
  const oldId = browser.cookie(cookieName)!
  await browser.get(`${url}/sign-in`)
  const newId = browser.cookie(cookieName)!
  assert.notEqual(newId, oldId)
  assert.equal((await read(browser)).value, 'carried')

  const attacker = new HttpSession()
  const fixed = await attacker.get(`${url}/get`, { cookie: `${cookieName}=${oldId}` })
  assert.equal((JSON.parse(fixed.text) as { value: unknown }).value, null, 'the pre-sign-in id is dead')
  assert.equal(await store.get(storeKey(oldId)), undefined)
  assert.notEqual(await store.get(storeKey(newId)), undefined)
})

test('regenerate also starts a new 12-hour lifetime', async () => {
  const browser = new HttpSession()
  await browser.get(`${url}/set?value=renewed`)
  for (let i = 0; i < 40; i++) { clock.advanceSeconds(15 * 60); await read(browser) } // 10 hours in
  await browser.get(`${url}/sign-in`)
  for (let i = 0; i < 16; i++) { clock.advanceSeconds(15 * 60); await read(browser) } // 14 hours in all, 4 since sign-in
  assert.equal((await read(browser)).value, 'renewed')
})

test('sign out destroys the session on the server and clears the cookie', async () => {
  const browser = new HttpSession()
  await browser.get(`${url}/set?value=bye`)
  const id = browser.cookie(cookieName)!
  const out = await browser.get(`${url}/sign-out`)
  assert.match(out.headers.getSetCookie().join(), /test-session=;/)
  assert.equal(await store.get(storeKey(id)), undefined)
  const replay = await new HttpSession().get(`${url}/get`, { cookie: `${cookieName}=${id}` })
  assert.equal((JSON.parse(replay.text) as { value: unknown }).value, null)
})

test('the store holds only a hash of the session id, never the id itself', async () => {
  const browser = new HttpSession()
  await browser.get(`${url}/set?value=secret-data`)
  const id = browser.cookie(cookieName)!
  const contents = await storeContents()
  assert.ok(contents.includes('secret-data'), 'the session is in the store being inspected')
  assert.ok(!contents.includes(id), 'the raw id is not')
  assert.notEqual(await store.get(storeKey(id)), undefined, 'it is filed under the SHA-256 of the id')
})

test('a malformed or unknown session cookie is ignored, not trusted', async () => {
  for (const cookie of [`${cookieName}=short`, `${cookieName}=${'x'.repeat(43)}`, `${cookieName}=../../etc/passwd`]) {
    const response = await new HttpSession().get(`${url}/get`, { cookie })
    assert.equal(response.status, 200)
    assert.deepEqual(JSON.parse(response.text), { value: null, ended: null })
  }
})
