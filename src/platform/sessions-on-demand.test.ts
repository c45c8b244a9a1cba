import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { sql, type Kysely } from 'kysely'
import { HttpSession, csrfFrom } from '../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../test/support/placements.ts'
import { openSigninPage } from '../../test/support/sign-in-steps.ts'
import type { ShortLivedTable } from './short-lived-store.ts'

// No session is stored until one is needed: a form that needs a CSRF token, or a sign-in.
// A load balancer's probe or a visitor reading the start page leaves nothing behind
// (it used to leave one session each, kept for 80 minutes).
let services: TestServices
before(async () => {
  services = await startTestServices()
})
after(() => services.close())

/** Sessions held by both services, in whichever store each uses (a table, or Redis). */
async function storedSessions(): Promise<number> {
  let count = 0
  for (const { context } of [services.signin, services.placements]) {
    const { redisUrl, redisPrefix } = context.config
    if (redisUrl) {
      const redis = new Redis(redisUrl)
      count += (await redis.keys(`${redisPrefix}session:*`)).length
      redis.disconnect()
    } else {
      const row = await (context.db as unknown as Kysely<ShortLivedTable>).selectFrom('short_lived')
        .select(sql<string>`count(*)`.as('count')).where('key', 'like', 'session:%').executeTakeFirstOrThrow()
      count += Number(row.count)
    }
  }
  return count
}

test('pages without a form store no session and set no cookie: start pages, signed out, not found, health checks, your account when signed out', async () => {
  const before = await storedSessions()
  const placements = services.placements.url
  const signin = services.signin.url
  const pages = [`${placements}/`, `${placements}/signed-out`, `${placements}/no-such-page`, `${placements}/healthz`, `${placements}/readyz`, `${signin}/`, `${signin}/healthz`, `${signin}/account`, `${signin}/account/signed-out-everywhere`]
  for (const url of pages) {
    for (let i = 0; i < 20; i++) {
      const response = await fetch(url)
      await response.arrayBuffer()
      assert.ok(response.status < 500, `${url}: ${response.status}`)
      assert.equal(response.headers.get('set-cookie'), null, `${url} sets no cookie`)
    }
  }
  assert.equal(await storedSessions(), before)
})

test('a page with a form stores one session holding its token, and the form is accepted', async () => {
  const before = await storedSessions()
  const http = new HttpSession()
  const page = await openSigninPage(http, services.placements.url)
  assert.equal(await storedSessions(), before + 1, 'Sign-in keeps one session for the form')
  const answer = await http.post(page.url, { _csrf: csrfFrom(page.text), email: 'nobody@example.com', password: 'not the right password at all' })
  assert.equal(answer.status, 400, 'the token was accepted: the answer is about the password, not an expired form')
})
