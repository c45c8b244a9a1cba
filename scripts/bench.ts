import { performance } from 'node:perf_hooks'
import { hashPassword, verifyPassword } from '../src/signin/accounts/passwords.ts'
import { demoPassword, seedDevelopment } from '../src/signin/seed.ts'
import { HttpSession } from '../test/support/http-client.ts'
import { beginFlow, discover, finishFlow, followToCallbackOrPage, openSignIn, submit } from '../test/support/oidc-flow.ts'
import { startTestSignin } from '../test/support/signin.ts'

/**
 * `npm run bench`: the cost of one password hash, and complete sign-ins per second
 * (authorization request → sign-in page → password → code → token exchange) against a
 * local Sign-in on the embedded database. Run with UV_THREADPOOL_SIZE=1 to hold
 * hashing to one core. Bounded: a fixed count of requests, to localhost only.
 */
process.env.NODE_ENV = 'test'
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const hashTimes: number[] = []
for (let i = 0; i < 15; i++) {
  const start = performance.now()
  await hashPassword('correct horse battery staple')
  hashTimes.push(performance.now() - start)
}
const hash = await hashPassword('correct horse battery staple')
const verifyTimes: number[] = []
for (let i = 0; i < 15; i++) {
  const start = performance.now()
  await verifyPassword(hash, 'correct horse battery staple')
  verifyTimes.push(performance.now() - start)
}
console.warn(`argon2id hash: median ${median(hashTimes).toFixed(1)} ms; verify: median ${median(verifyTimes).toFixed(1)} ms`)

const signin = await startTestSignin()
await seedDevelopment(signin.context.db, new Date(), { clientId: 'unused', secret: 'unused-secret-0123456789', placementsUrl: 'http://localhost:4998' })
const serviceUrl = 'http://localhost:4999'
const client = await signin.registerTestClient({ baseUrl: serviceUrl })
const config = await discover(signin.url, client.clientId, client.secret)

async function oneSignIn(): Promise<void> {
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const page = await openSignIn(http, flow)
  const callback = await followToCallbackOrPage(http, await submit(http, page, page.url, { email: 'anne.wilson@example.com', password: demoPassword }), flow.redirectUri)
  await finishFlow(flow, callback.url)
}

const total = Number(process.env.BENCH_SIGN_INS ?? 60)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4)
await oneSignIn()
const start = performance.now()
let started = 0
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (started < total) {
    started++
    await oneSignIn()
  }
}))
const seconds = (performance.now() - start) / 1000
console.warn(`${total} complete sign-ins, concurrency ${concurrency}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'default (4)'}: ${(total / seconds).toFixed(1)} per second (${(seconds * 1000 / total).toFixed(0)} ms each on average)`)
await signin.close()
