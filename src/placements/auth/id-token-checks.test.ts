import assert from 'node:assert/strict'
import { createHmac, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import express from 'express'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { HttpSession } from '../../../test/support/http-client.ts'
import { readPlacementsConfig } from '../config.ts'
import type { PlacementsDatabase } from '../database/schema.ts'
import { seedPlacements } from '../seed.ts'
import { startPlacements, type RunningPlacements } from '../server.ts'

/**
 * Placements does not take a provider's word for who signed in (docs/security.md,
 * "OpenID Connect"): against a hostile issuer that advertises `none` and HS256 and hands
 * out whatever ID token a test asks for, only a token signed with RS256 by a key in the
 * issuer's JWKS signs anyone in, and an invitation is matched by email only when the
 * provider says the address is verified.
 */
const clientId = 'placements'
const clientSecret = 'hostile-issuer-client-secret-0123456789'
const realKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
const realKid = 'the-real-key'

type Forgery = 'genuine' | 'none' | 'hs256' | 'other-key-same-kid' | 'unknown-kid' | 'unverified-email' | 'rs384'
let forgery: Forgery = 'genuine'
let invitedEmail = ''
const nonces = new Map<string, string>()
let server: http.Server
let issuer: string
let database: TestDatabase<PlacementsDatabase>
let placements: RunningPlacements

const base64url = (value: Buffer | string) => Buffer.from(value).toString('base64url')

function jwt(header: Record<string, unknown>, claims: Record<string, unknown>, sign: (input: string) => string): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
  return `${input}.${sign(input)}`
}

const rsa = (key: KeyObject, algorithm = 'RSA-SHA256') => (input: string) => createSign(algorithm).update(input).sign(key).toString('base64url')

function idToken(nonce: string): string {
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    iss: issuer, aud: clientId, sub: `forged-sub-${randomBytes(4).toString('hex')}`, iat: now, exp: now + 300, nonce,
    // This address was invited: whoever the token names by it would be let in.
    email: invitedEmail, email_verified: forgery !== 'unverified-email', given_name: 'Invited', family_name: 'Person'
  }
  switch (forgery) {
    case 'none': return jwt({ alg: 'none', typ: 'JWT' }, claims, () => '')
    case 'hs256': return jwt({ alg: 'HS256', typ: 'JWT' }, claims, (input) => createHmac('sha256', clientSecret).update(input).digest('base64url'))
    case 'other-key-same-kid': return jwt({ alg: 'RS256', kid: realKid }, claims, rsa(otherKey.privateKey))
    case 'unknown-kid': return jwt({ alg: 'RS256', kid: 'a-key-nobody-published' }, claims, rsa(otherKey.privateKey))
    case 'rs384': return jwt({ alg: 'RS384', kid: realKid }, claims, rsa(realKey.privateKey, 'RSA-SHA384'))
    default: return jwt({ alg: 'RS256', kid: realKid }, claims, rsa(realKey.privateKey))
  }
}

before(async () => {
  const op = express()
  op.get('/.well-known/openid-configuration', (_req, res) => {
    res.json({
      issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'], subject_types_supported: ['public'], code_challenge_methods_supported: ['S256'],
      id_token_signing_alg_values_supported: ['none', 'HS256', 'RS256', 'RS384'], token_endpoint_auth_methods_supported: ['client_secret_basic']
    })
  })
  op.get('/jwks', (_req, res) => {
    res.json({ keys: [{ ...realKey.publicKey.export({ format: 'jwk' }), kid: realKid, use: 'sig' }] })
  })
  // Signs anyone in at once: the code carries the nonce it must return.
  op.get('/authorize', (req, res) => {
    const code = randomBytes(16).toString('hex')
    nonces.set(code, String(req.query.nonce))
    const back = new URL(String(req.query.redirect_uri))
    back.searchParams.set('code', code)
    back.searchParams.set('state', String(req.query.state))
    res.redirect(back.href)
  })
  op.post('/token', express.urlencoded({ extended: false }), (req, res) => {
    const nonce = nonces.get(String((req.body as Record<string, string>).code)) ?? ''
    res.json({ access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token: idToken(nonce) })
  })
  server = http.createServer(op)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://localhost:${(server.address() as AddressInfo).port}`
  database = await freshDatabase<PlacementsDatabase>()
  // This issuer says nothing about acr: what is checked here is the signature and the email rules.
  const config = readPlacementsConfig({ NODE_ENV: 'test', PLACEMENTS_PORT: '0', OIDC_ISSUER_URL: issuer, OIDC_CLIENT_ID: clientId, OIDC_CLIENT_SECRET: clientSecret, OIDC_REQUIRED_ACR: 'off' })
  placements = await startPlacements({ ...config, redisUrl: undefined }, { db: database.db, beforeListen: (db) => seedPlacements(db, new Date()) })
})

after(async () => {
  await placements.close()
  await database.drop()
  server.closeAllConnections()
  server.close()
})

/** Each test invites its own person to Oakwood Primary School, then the issuer signs them in with a token of this kind. */
async function signInWith(kind: Forgery) {
  forgery = kind
  invitedEmail = `invited.${kind}.${randomBytes(3).toString('hex')}@example.com`
  const db = database.db
  const oakwood = await db.selectFrom('organisations').select('id').where('name', '=', 'Oakwood Primary School').executeTakeFirstOrThrow()
  const user = await db.insertInto('users').values({
    email: invitedEmail, email_normalised: invitedEmail, given_name: 'Invited', family_name: 'Person', sign_in_sub: null, last_signed_in_at: null, created_at: new Date()
  }).returning('id').executeTakeFirstOrThrow()
  await db.insertInto('memberships').values({ user_id: user.id, organisation_id: oakwood.id, created_at: new Date() }).execute()
  const session = new HttpSession()
  const page = await session.follow(await session.get(`${placements.url}/sign-in`))
  // Signed in, the home page leads to the person's organisation; signed out, it is the start page.
  const home = await session.get(`${placements.url}/`)
  const bound = await db.selectFrom('users').select('sign_in_sub').where('id', '=', user.id).executeTakeFirstOrThrow()
  return { page, signedIn: home.status === 303 && home.headers.get('location')!.startsWith('/organisations/'), boundSub: bound.sign_in_sub }
}

test('control: a token signed with RS256 by the published key signs the invited person in', async () => {
  const { page, signedIn, boundSub } = await signInWith('genuine')
  assert.match(page.text, /Oakwood Primary School/)
  assert.equal(signedIn, true)
  assert.match(boundSub ?? '', /^forged-sub-/)
})

for (const [kind, what] of [
  ['none', 'an unsigned token (alg "none")'],
  ['hs256', 'a token signed with the client secret (HS256)'],
  ['other-key-same-kid', 'a token signed with another key under the published key\'s kid'],
  ['unknown-kid', 'a token signed with a key the issuer never published'],
  ['rs384', 'a token signed by the published key with an algorithm other than the configured one']
] as const) {
  test(`${what} is refused, whatever the issuer advertises`, async () => {
    const { page, signedIn, boundSub } = await signInWith(kind)
    assert.equal(page.status, 400)
    assert.match(page.text, /There was a problem signing you in/)
    assert.equal(signedIn, false)
    assert.equal(boundSub, null, 'nothing was bound')
  })
}

test('an address the provider has not verified is not matched to an invitation: no access, and the page says why', async () => {
  const { page, signedIn, boundSub } = await signInWith('unverified-email')
  assert.match(page.url, /\/no-access$/)
  assert.match(page.text, /has not confirmed that this email address belongs to you/)
  assert.equal(signedIn, false)
  assert.equal(boundSub, null, 'the invitation was not bound to the unverified identity')
})
