import type * as oidc from 'openid-client'
import type { Clock } from '../../src/platform/clock.ts'
import type { Logger } from '../../src/platform/logger.ts'
import { readSigninConfig } from '../../src/signin/config.ts'
import type { SigninDatabase } from '../../src/signin/database/schema.ts'
import { registerClient } from '../../src/signin/provider/clients.ts'
import { startSignin, type RunningSignin } from '../../src/signin/server.ts'
import { freshDatabase, redisSettings } from './databases.ts'
import { discover } from './oidc-flow.ts'

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
