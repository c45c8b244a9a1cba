import { readSigninConfig } from './signin/config.ts'
import { demoPassword, demoPersonas, seedDevelopment } from './signin/seed.ts'
import { startSignin } from './signin/server.ts'

/**
 * `npm start`: every service, in development mode on the embedded database unless
 * configured otherwise, with demo data seeded on first start.
 */
process.env.NODE_ENV ??= 'development'
const signinConfig = readSigninConfig()
const development = signinConfig.environment === 'development'

const signin = await startSignin(signinConfig, {
  host: process.env.HOST ?? '127.0.0.1',
  beforeListen: development ? (db) => seedDevelopment(db, new Date()) : undefined
})

console.warn(`Sign-in is running at ${signin.url}`)
if (development) {
  console.warn(`  Development mailbox: ${signin.url}/dev/mailbox`)
  console.warn(`  Demo accounts (password "${demoPassword}"): ${demoPersonas.map((p) => p.email).join(', ')}`)
}

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    signin.close().then(() => process.exit(0), () => process.exit(1))
  })
}
