import { after, beforeEach } from 'node:test'
import type * as oidc from 'openid-client'
import { FakeClock, type Clock } from '../../src/platform/clock.ts'
import type { Logger } from '../../src/platform/logger.ts'
import { readSigninConfig } from '../../src/signin/config.ts'
import type { SigninDatabase } from '../../src/signin/database/schema.ts'
import { registerClient } from '../../src/signin/provider/clients.ts'
import { startSignin, type RunningSignin } from '../../src/signin/server.ts'
import { uniqueWord } from './builders.ts'
import { freshDatabase, redisSettings } from './databases.ts'
import { HttpSession, ownLoopbackAddress } from './http-client.ts'
import { discover } from './oidc-flow.ts'
import { addAccount } from './signin-pages.ts'

/** A running Sign-in on a free port with its own database and one registered test client. */
export interface TestSignin extends RunningSignin {
  registerTestClient(options: { baseUrl: string, clientId?: string, secret?: string, name?: string }): Promise<{ clientId: string, secret: string }>
  /** The newest email to this address in the outbox (the dev mailbox's source). */
  latestEmail(to: string): Promise<{ subject: string, body: string } | undefined>
  /** The 6-digit code in the newest email to this address. */
  latestCode(to: string): Promise<string>
}

export async function startTestSignin(options: { clock?: Clock, env?: NodeJS.ProcessEnv, log?: Logger } = {}): Promise<TestSignin> {
  const database = await freshDatabase<SigninDatabase>()
  const config = {
    ...readSigninConfig({ NODE_ENV: 'test', SIGNIN_PORT: '0', ...options.env }),
    ...redisSettings()
  }
  const running = await startSignin(config, { db: database.db, ...(options.clock ? { clock: options.clock } : {}), ...(options.log ? { log: options.log } : {}) })
  const { db, clock } = running.context
  const latestEmail = async (to: string) => db.selectFrom('outbox').select(['subject', 'body'])
    .where('recipient', '=', to).orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return {
    ...running,
    async registerTestClient({ baseUrl, clientId = 'test-service', secret = 'test-service-secret-0123456789abcdef', name = 'Test service' }) {
      await registerClient(db, {
        clientId, name, secret,
        redirectUris: [`${baseUrl}/callback`],
        postLogoutRedirectUris: [`${baseUrl}/signed-out`],
        clientUri: `${baseUrl}/`
      }, clock.now())
      return { clientId, secret }
    },
    latestEmail,
    async latestCode(to: string) {
      const email = await latestEmail(to)
      const code = email?.body.match(/\b(\d{6})\b/)?.[1]
      if (!code) throw new Error(`No code emailed to ${to}`)
      return code
    },
    async close() {
      await running.close()
      await database.drop()
    }
  }
}

/**
 * Sign-in with one registered test service, and that service's discovered OpenID
 * configuration: the usual start of an HTTP test of a journey.
 */
export async function startSigninWithTestService(options: { clock?: Clock, serviceUrl?: string } = {}): Promise<{ signin: TestSignin, config: oidc.Configuration }> {
  const signin = await startTestSignin(options.clock ? { clock: options.clock } : {})
  const client = await signin.registerTestClient({ baseUrl: options.serviceUrl ?? 'http://localhost:4999' })
  return { signin, config: await discover(signin.url, client.clientId, client.secret) }
}

export interface SigninTestHarness {
  signin: TestSignin
  /** The test service's discovered OpenID configuration. */
  config: oidc.Configuration
  /** Sign-in's clock: back at the real time when each test starts (see signinTestHarness). */
  clock: FakeClock
  serviceUrl: string
  redirectUri: string
  /**
   * A browser of the test's own: its own cookies and its own IP address, so the per-IP
   * limits (100 wrong passwords an hour) one test uses up are not another test's.
   */
  browser(): HttpSession
  /** An account of the test's own (an address no other test uses), with a password. */
  person(name?: string, options?: { givenName?: string, familyName?: string }): Promise<{ email: string, password: string, id: string }>
}

/**
 * The usual start of an HTTP test file for Sign-in, with the hooks that keep its tests
 * independent, for top-level await:
 *
 *   const { signin, config, clock, redirectUri } = await signinTestHarness()
 *
 * starts Sign-in on a fresh test database with one registered test service, discovers
 * that service's configuration, closes it all after the file, and before each test puts
 * the clock back to the real time. The provider stamps a sign-in with the real time
 * (oidc-provider has no clock to inject), so a test that moved the clock 16 minutes on
 * would otherwise leave every later sign-in looking 16 minutes old to the "recent
 * sign-in" checks.
 */
export async function signinTestHarness(options: { serviceUrl?: string } = {}): Promise<SigninTestHarness> {
  const serviceUrl = options.serviceUrl ?? 'http://localhost:4999'
  const clock = new FakeClock(new Date())
  const { signin, config } = await startSigninWithTestService({ clock, serviceUrl })
  after(() => signin.close())
  beforeEach(() => clock.advanceSeconds((Date.now() - clock.now().getTime()) / 1000))
  return {
    signin, config, clock, serviceUrl,
    redirectUri: `${serviceUrl}/callback`,
    browser: () => new HttpSession({ from: ownLoopbackAddress() }),
    async person(name = 'person', names = {}) {
      const email = `${name}.${uniqueWord()}@example.com`
      const password = `${name}-password-long-enough`
      const account = await addAccount(signin.context.db, { email, password, givenName: names.givenName ?? 'Ada', familyName: names.familyName ?? 'Lovelace' }, clock.now())
      return { email, password, id: account.id }
    }
  }
}
