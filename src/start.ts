import type { Kysely } from 'kysely'
import type { PlacementsDatabase } from './placements/database/schema.ts'
import { DataFolderInUseError } from './platform/data-folder-lock.ts'
import type { SigninDatabase } from './signin/database/schema.ts'

/**
 * `npm start`: both services, in development mode on the embedded database unless
 * configured otherwise, with demo data seeded on first start. In production each
 * service can also run on its own: START=signin or START=placements.
 *
 * SIGTERM or SIGINT (Ctrl-C) stops gracefully: requests in flight finish within
 * SHUTDOWN_GRACE_SECONDS; a second Ctrl-C stops at once.
 */
// Each service's modules are imported only when that service starts: START=placements
// never loads oidc-provider, WebAuthn or the password code, and START=signin never loads
// Placements (docs/performance.md, Memory).
process.env.NODE_ENV ??= 'development'
const only = process.env.START
const host = process.env.HOST ?? '127.0.0.1'
const running: Array<{ close(): Promise<void> }> = []
let graceSeconds = 10

/** Each step of a start, so a first start (which takes a while) is never silent. */
const progress = (service: string) => (step: string) => console.warn(`${service}: ${step}…`)

try {
  if (only !== 'placements') {
    const [{ readSigninConfig }, { startSignin }] = await Promise.all([import('./signin/config.ts'), import('./signin/server.ts')])
    const config = readSigninConfig()
    graceSeconds = config.shutdownGraceSeconds
    const say = progress('Sign-in')
    const seed = config.environment === 'development'
      ? async (db: Kysely<SigninDatabase>) => {
        say('adding the development client and demo accounts')
        const { seedDevelopment } = await import('./signin/seed.ts')
        await seedDevelopment(db, new Date())
      }
      : undefined
    const signin = await startSignin(config, { host, progress: say, beforeListen: seed })
    running.push(signin)
    console.warn(`Sign-in is running at ${signin.url}${config.environment === 'development' ? ` (mailbox: ${signin.url}/dev/mailbox)` : ''}`)
    if (signin.metricsUrl) console.warn(`Sign-in's metrics: ${signin.metricsUrl}`)
  }
  if (only !== 'signin') {
    const [{ readPlacementsConfig }, { startPlacements }] = await Promise.all([import('./placements/config.ts'), import('./placements/server.ts')])
    const config = readPlacementsConfig()
    graceSeconds = Math.max(graceSeconds, config.shutdownGraceSeconds)
    const say = progress('Manage school placements')
    const seed = config.environment === 'development'
      ? async (db: Kysely<PlacementsDatabase>) => {
        say('adding the demo organisations and users')
        const { seedPlacements } = await import('./placements/seed.ts')
        await seedPlacements(db, new Date())
      }
      : undefined
    const placements = await startPlacements(config, { host, progress: say, beforeListen: seed })
    running.push(placements)
    console.warn(`Manage school placements is running at ${placements.url}${config.environment === 'development' ? ` (mailbox: ${placements.url}/dev/mailbox)` : ''}`)
    if (placements.metricsUrl) console.warn(`Manage school placements' metrics: ${placements.metricsUrl}`)
  }
} catch (error) {
  // A refusal that says what to do is the whole message; anything else keeps its stack.
  console.error(error instanceof DataFolderInUseError ? error.message : error)
  await Promise.allSettled(running.map((service) => service.close()))
  process.exit(1)
}
if (process.env.NODE_ENV === 'development') {
  const { demoAppPersonaEmail, demoAppSecret, demoPassword, demoPersonas } = await import('./demo/personas.ts')
  console.warn(`Demo accounts (password "${demoPassword}"):\n${demoPersonas.map((p) => `  ${p.role}: ${p.email}`).join('\n')}`)
  console.warn(`After the password, ${demoAppPersonaEmail} is asked for an authenticator app code: add the development-only key ${demoAppSecret} to any authenticator app. The others get a code by email: see Sign-in's mailbox.`)
}

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      if (signal === 'SIGINT') process.exit(130)
      return
    }
    stopping = true
    console.warn(`${signal}: finishing the requests in progress (at most ${graceSeconds} seconds), then stopping`)
    // Should closing itself hang (a database that never answers), the process still ends.
    setTimeout(() => {
      console.error('Stopping took too long; exiting')
      process.exit(1)
    }, (graceSeconds + 5) * 1000).unref()
    Promise.all(running.map((service) => service.close())).then(() => process.exit(0), (error: unknown) => {
      console.error(error)
      process.exit(1)
    })
  })
}
