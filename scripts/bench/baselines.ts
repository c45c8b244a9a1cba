import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import express from 'express'
import { exportJWK, generateKeyPair } from 'jose'
import type { Kysely } from 'kysely'
import Provider from 'oidc-provider'
import { systemClock } from '../../src/platform/clock.ts'
import { migrate, openDatabase } from '../../src/platform/database.ts'
import { sessionStoreKey } from '../../src/platform/sessions.ts'
import { connectRedis, PostgresShortLivedStore, RedisShortLivedStore } from '../../src/platform/short-lived-store.ts'
import { placementsMigrations } from '../../src/placements/database/migrations.ts'
import type { PlacementsDatabase } from '../../src/placements/database/schema.ts'
import { findPrincipal } from '../../src/placements/domain/users.ts'
import { findAccountByEmail } from '../../src/signin/accounts/accounts.ts'
import { checkAppCode } from '../../src/signin/accounts/authenticator-app.ts'
import { hashPassword, verifyPassword } from '../../src/signin/accounts/passwords.ts'
import type { SigninDatabase } from '../../src/signin/database/schema.ts'
import { adapterFactory } from '../../src/signin/provider/adapters.ts'
import { addPlacementsMember } from './seed.ts'

/**
 * The baselines of `npm run bench`, each run as its own process on the server's core:
 *
 * - `argon2 <ms>`: Argon2id verifications per second with the project's own parameters
 *   (two in flight, so the core never waits between them): the physical limit of
 *   password sign-ins on that core. Prints JSON.
 * - `express <port> <bytes>`: bare Express answering a fixed HTML page of that size.
 * - `page-floor <port> <bytes>`: the same, after the two reads every signed-in Placements
 *   page must make (server-side sessions, ADR 8): the session record from the short-lived
 *   store (Redis, or the database when REDIS_URL is empty), then the principal with our own
 *   `findPrincipal`. Its own database (PLACEMENTS_DATABASE_URL, or DATA_DIR/page-floor),
 *   migrated and given one member of one school at start; Redis keys under
 *   PLACEMENTS_REDIS_PREFIX. The physical floor of the page: what it costs beyond this is ours.
 * - `provider <port>`: bare oidc-provider with a minimal sign-in (a password form, then an
 *   authenticator-app code form, both checked with the project's own functions) on the
 *   same stores as Sign-in (SIGNIN_DATABASE_URL or DATA_DIR, REDIS_URL): the library's
 *   own floor, showing what our journeys add. Client `bench-bare`, secret BARE_SECRET.
 *
 * Servers print `ready` when listening and stop on SIGTERM.
 */
export const bareClient = { clientId: 'bench-bare', secret: 'bench-bare-client-secret-0123456789', redirectUri: 'http://localhost:4999/callback' }

async function argon2(durationMs: number): Promise<void> {
  const hash = await hashPassword('correct horse battery staple')
  for (let i = 0; i < 10; i++) await verifyPassword(hash, 'correct horse battery staple')
  let done = 0
  const cpuBefore = process.cpuUsage()
  const begun = performance.now()
  await Promise.all([0, 1].map(async () => {
    while (performance.now() - begun < durationMs) {
      if (!await verifyPassword(hash, 'correct horse battery staple')) throw new Error('verify failed')
      done++
    }
  }))
  const seconds = (performance.now() - begun) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const cpuMsEach = (cpu.user + cpu.system) / 1000 / done
  process.stdout.write(JSON.stringify({ verifications: done, seconds, perSecond: done / seconds, msEach: seconds * 1000 / done, cpuMsEach }))
}

const fixedPage = (bytes: number) =>
  `<!DOCTYPE html><html lang="en"><head><title>Fixed</title></head><body>${'x'.repeat(Math.max(0, bytes - 90))}</body></html>`

function bareExpress(port: number, bytes: number): void {
  const page = fixedPage(bytes)
  const app = express()
  app.get('/', (_req, res) => { res.type('html').send(page) })
  const server = app.listen(port, '127.0.0.1', () => console.warn('ready'))
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
}

interface StoredSession {
  data: { userId: string }
  createdAt: number
  lastSeenAt: number
}

async function pageFloor(port: number, bytes: number): Promise<void> {
  const location = process.env.PLACEMENTS_DATABASE_URL ? { url: process.env.PLACEMENTS_DATABASE_URL } : { directory: `${process.env.DATA_DIR}/page-floor` }
  const db = await openDatabase<PlacementsDatabase>(location)
  await migrate(db as unknown as Kysely<unknown>, placementsMigrations)
  const redis = process.env.REDIS_URL ? connectRedis(process.env.REDIS_URL) : undefined
  const store = redis ? new RedisShortLivedStore(redis, process.env.PLACEMENTS_REDIS_PREFIX ?? 'bench-page-floor:') : new PostgresShortLivedStore(db as unknown as Kysely<never>)
  const userId = await addPlacementsMember(db, 'bench.page-floor@example.com')
  // The record a sign-in leaves (src/placements/auth/routes.ts, a form's CSRF token added),
  // under a key shaped as the sessions middleware shapes it; the ID token is a stand-in of
  // about an RS256 token's length (900 characters), so reading the record parses about as
  // much JSON as the page's own read does.
  const key = sessionStoreKey(randomBytes(32).toString('base64url'))
  const now = Date.now()
  const data = { userId, idToken: randomBytes(675).toString('base64url'), signedInAt: now, csrfToken: randomBytes(32).toString('base64url') }
  await store.set(key, { data, createdAt: now, lastSeenAt: now } satisfies StoredSession, 3600)
  const page = fixedPage(bytes)
  const app = express()
  app.get('/', async (_req, res) => {
    const session = await store.get<StoredSession>(key)
    const principal = session && await findPrincipal(db, session.data.userId)
    // Answering anything but 200 stops the bench: a floor that skipped a read would be no floor.
    if (!principal) {
      res.status(500).end()
      return
    }
    res.type('html').send(page)
  })
  const server = app.listen(port, '127.0.0.1', () => console.warn('ready'))
  process.on('SIGTERM', () => server.close(async () => {
    redis?.disconnect()
    await db.destroy()
    process.exit(0)
  }))
}

const form = (action: string, fields: string) =>
  `<!DOCTYPE html><html lang="en"><head><title>Sign in</title></head><body><form method="post" action="${action}"><input type="hidden" name="_csrf" value="${randomBytes(16).toString('base64url')}">${fields}<button>Continue</button></form></body></html>`

async function bareProvider(port: number): Promise<void> {
  const location = process.env.SIGNIN_DATABASE_URL ? { url: process.env.SIGNIN_DATABASE_URL } : { directory: `${process.env.DATA_DIR}/signin` }
  const db = await openDatabase<SigninDatabase>(location) as Kysely<SigninDatabase>
  const redis = process.env.REDIS_URL ? connectRedis(process.env.REDIS_URL) : undefined
  const store = redis ? new RedisShortLivedStore(redis, 'bench-bare:') : new PostgresShortLivedStore(db as unknown as Kysely<never>)
  const codeKey = Buffer.from(process.env.SIGNIN_CODE_KEY!, 'utf8')
  const adapters = adapterFactory(db, systemClock, redis, 'bench-bare:')
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const issuer = `http://127.0.0.1:${port}`
  const provider = new Provider(issuer, {
    // The client is static (in memory); every other model is kept where Sign-in keeps it.
    adapter: (name: string) => name === 'Client' ? { find: async () => undefined } as never : adapters(name),
    clients: [{ client_id: bareClient.clientId, client_secret: bareClient.secret, redirect_uris: [bareClient.redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
    jwks: { keys: [{ ...await exportJWK(privateKey), alg: 'RS256', use: 'sig', kid: 'bench' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) })
  })
  const app = express()
  app.use(express.urlencoded({ extended: false }))
  app.get('/interaction/:uid', async (req, res) => {
    await provider.interactionDetails(req, res)
    res.type('html').send(form(req.originalUrl, '<input name="email"><input name="password" type="password">'))
  })
  app.post('/interaction/:uid', async (req, res) => {
    const interaction = await provider.interactionDetails(req, res)
    const account = await findAccountByEmail(db, String(req.body.email))
    if (!account?.password_hash || !await verifyPassword(account.password_hash, String(req.body.password))) {
      res.status(400).type('html').send(form(req.originalUrl, '<p>Wrong</p>'))
      return
    }
    interaction.result = { passwordAccountId: account.id }
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000))
    res.redirect(303, `/interaction/${req.params.uid}/authenticator-app-code`)
  })
  app.get('/interaction/:uid/authenticator-app-code', async (req, res) => {
    await provider.interactionDetails(req, res)
    res.type('html').send(form(req.originalUrl, '<input name="code">'))
  })
  app.post('/interaction/:uid/authenticator-app-code', async (req, res) => {
    const interaction = await provider.interactionDetails(req, res)
    const accountId = String(interaction.result?.passwordAccountId ?? '')
    const check = await checkAppCode(db, store, codeKey, { accountId }, String(req.body.code), new Date())
    if (check.result !== 'correct') {
      res.status(400).type('html').send(form(req.originalUrl, '<p>Wrong code</p>'))
      return
    }
    const grant = new provider.Grant({ accountId, clientId: String(interaction.params.client_id) })
    grant.addOIDCScope(String(interaction.params.scope))
    const grantId = await grant.save()
    await provider.interactionFinished(req, res, { login: { accountId, amr: ['pwd', 'otp'] }, consent: { grantId } }, { mergeWithLastSubmission: false })
  })
  app.use(provider.callback())
  const server = app.listen(port, '127.0.0.1', () => console.warn('ready'))
  process.on('SIGTERM', () => server.close(async () => {
    redis?.disconnect()
    await db.destroy()
    process.exit(0)
  }))
}

if (import.meta.main) {
  const [mode, first, second] = process.argv.slice(2)
  if (mode === 'argon2') await argon2(Number(first))
  else if (mode === 'express') bareExpress(Number(first), Number(second))
  else if (mode === 'page-floor') await pageFloor(Number(first), Number(second))
  else if (mode === 'provider') await bareProvider(Number(first))
  else throw new Error(`Unknown baseline ${mode}`)
}
