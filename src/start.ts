import { readPlacementsConfig } from './placements/config.ts'
import { seedPlacements } from './placements/seed.ts'
import { startPlacements } from './placements/server.ts'
import { readSigninConfig } from './signin/config.ts'
import { seedDevelopment } from './signin/seed.ts'
import { demoPassword, demoPersonas } from './demo/personas.ts'
import { startSignin } from './signin/server.ts'

/**
 * `npm start`: both services, in development mode on the embedded database unless
 * configured otherwise, with demo data seeded on first start. In production each
 * service can also run on its own: START=signin or START=placements.
 */
process.env.NODE_ENV ??= 'development'
const only = process.env.START
const host = process.env.HOST ?? '127.0.0.1'
const running: Array<{ close(): Promise<void> }> = []

if (only !== 'placements') {
  const config = readSigninConfig()
  const signin = await startSignin(config, { host, beforeListen: config.environment === 'development' ? (db) => seedDevelopment(db, new Date()) : undefined })
  running.push(signin)
  console.warn(`Sign-in is running at ${signin.url}${config.environment === 'development' ? ` (mailbox: ${signin.url}/dev/mailbox)` : ''}`)
}
if (only !== 'signin') {
  const config = readPlacementsConfig()
  const placements = await startPlacements(config, { host, beforeListen: config.environment === 'development' ? (db) => seedPlacements(db, new Date()) : undefined })
  running.push(placements)
  console.warn(`Manage school placements is running at ${placements.url}${config.environment === 'development' ? ` (mailbox: ${placements.url}/dev/mailbox)` : ''}`)
}
if (process.env.NODE_ENV === 'development') {
  console.warn(`Demo accounts (password "${demoPassword}"):\n${demoPersonas.map((p) => `  ${p.role}: ${p.email}`).join('\n')}`)
}

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    Promise.all(running.map((service) => service.close())).then(() => process.exit(0), () => process.exit(1))
  })
}
