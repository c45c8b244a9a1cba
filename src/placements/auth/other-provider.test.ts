import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import Provider from 'oidc-provider'
import { HttpSession, csrfFrom, formAction } from '../../../test/support/http-client.ts'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { readPlacementsConfig } from '../config.ts'
import type { PlacementsDatabase } from '../database/schema.ts'
import { seedPlacements } from '../seed.ts'
import { startPlacements, type RunningPlacements } from '../server.ts'

/**
 * Placements against an OpenID Provider that is not our Sign-in: a plain oidc-provider
 * with its stock development login pages (any login is accepted as the `sub`). Only
 * configuration differs, as it would for the real DfE Sign-in.
 */
const people: Record<string, { email: string, given_name: string, family_name: string }> = {
  'dfe-sub-anne': { email: 'Anne.Wilson@example.com', given_name: 'Anne', family_name: 'Wilson' },
  'dfe-sub-stranger': { email: 'stranger@example.com', given_name: 'Sam', family_name: 'Stranger' }
}

let server: http.Server
let issuer: string
let placements: RunningPlacements
let database: TestDatabase<PlacementsDatabase>

before(async () => {
  server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://localhost:${(server.address() as AddressInfo).port}`
  database = await freshDatabase<PlacementsDatabase>()
  const config = readPlacementsConfig({
    NODE_ENV: 'test', PLACEMENTS_PORT: '0', OIDC_ISSUER_URL: issuer, OIDC_CLIENT_ID: 'placements', OIDC_CLIENT_SECRET: 'a-plain-provider-secret-0123456789', OIDC_PROVIDER_NAME: 'Another provider',
    // A provider that says nothing about acr (as the real DfE Sign-in, which does its own second factor).
    OIDC_REQUIRED_ACR: 'off'
  })
  placements = await startPlacements({ ...config, redisUrl: undefined }, { db: database.db, beforeListen: (db) => seedPlacements(db, new Date()) })
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'placements', client_secret: 'a-plain-provider-secret-0123456789',
      redirect_uris: [`${placements.url}/auth/callback`], post_logout_redirect_uris: [`${placements.url}/signed-out`]
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    async findAccount(_ctx, sub) {
      const person = people[sub]
      return { accountId: sub, async claims() { return { sub, ...(person ?? {}), email_verified: true } } }
    }
  })
  server.on('request', provider.callback())
})

after(async () => {
  await placements.close()
  await database.drop()
  server.closeAllConnections()
  server.close()
})

async function signInAt(session: HttpSession, sub: string) {
  let page = await session.follow(await session.get(`${placements.url}/sign-in`))
  assert.match(page.text, /name="login"/, 'the plain provider login page')
  page = await session.follow(await session.post(new URL(formAction(page.text), page.url), { prompt: 'login', login: sub, password: 'anything' }))
  if (/value="consent"/.test(page.text)) {
    page = await session.follow(await session.post(new URL(formAction(page.text), page.url), { prompt: 'consent' }))
  }
  return page
}

test('the start page names the configured identity provider', async () => {
  const page = await new HttpSession().get(`${placements.url}/`)
  assert.match(page.text, /Sign in using Another provider/)
})

test('a person invited by email is matched (case-insensitively), their sub bound, and let in', async () => {
  const page = await signInAt(new HttpSession(), 'dfe-sub-anne')
  assert.equal(page.status, 200)
  assert.match(page.text, /Oakwood Primary School/)
  const user = await placements.context.db.selectFrom('users').selectAll().where('email_normalised', '=', 'anne.wilson@example.com').executeTakeFirstOrThrow()
  assert.equal(user.sign_in_sub, 'dfe-sub-anne')
})

test('a person nobody invited sees the no-access page, and signing out ends the provider session', async () => {
  const session = new HttpSession()
  const page = await signInAt(session, 'dfe-sub-stranger')
  assert.match(page.url, /\/no-access$/)
  assert.match(page.text, /stranger@example\.com/)
  const signOut = await session.post(`${placements.url}/sign-out`, { _csrf: csrfFrom(page.text) })
  const location = new URL(signOut.headers.get('location')!)
  assert.equal(location.origin + location.pathname, `${issuer}/session/end`)
  assert.ok(location.searchParams.get('id_token_hint'))
  assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${placements.url}/signed-out`)
})
