import { performance } from 'node:perf_hooks'
import { hashPassword, verifyPassword } from '../src/signin/accounts/passwords.ts'
import { demoPassword } from '../src/demo/personas.ts'
import { seedDevelopment } from '../src/signin/seed.ts'
import { HttpSession } from '../test/support/http-client.ts'
import { beginFlow, discover, finishFlow, followToCallbackOrPage, openSignIn, submit } from '../test/support/oidc-flow.ts'
import { startTestServices } from '../test/support/placements.ts'
import { signInToPlacements } from '../test/support/placements-flow.ts'
import { startTestSignin } from '../test/support/signin.ts'
import { passSecondFactor } from '../test/support/second-factor.ts'
import { addAccount } from '../test/support/signin-pages.ts'
import { addConfirmedApp, newAppSecret } from '../src/signin/accounts/authenticator-app.ts'
import { addPasskey, signinRelyingParty } from '../src/signin/accounts/passkey-actions.ts'
import { registrationOptions } from '../src/signin/accounts/passkeys.ts'
import { csrfFrom } from '../test/support/http-client.ts'
import { SoftPasskey } from '../test/support/soft-passkey.ts'

/**
 * `npm run bench`: the cost of one password hash, the median time of one complete sign-in
 * with an emailed code, with an authenticator app and with a passkey alone (the software
 * authenticator of the tests; no password hash), and complete sign-ins per second
 * (authorization request → sign-in page → password → second factor → code → token exchange) against a
 * local Sign-in on the embedded database; then authenticated Placements page requests
 * per second (session, principal and memberships loaded from the database each time).
 * For one core: `UV_THREADPOOL_SIZE=1 taskset -c 0 npm run bench`.
 * Bounded: a fixed count of requests, to localhost only.
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

/** A complete sign-in: password, then the second factor (an emailed code, or the app's code when `appSecret` is given). */
async function oneSignIn(email = 'anne.wilson@example.com', appSecret?: string): Promise<void> {
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const page = await openSignIn(http, flow)
  const callback = await followToCallbackOrPage(http, await passSecondFactor(http, await submit(http, page, page.url, { email, password: demoPassword }), { appSecret }), flow.redirectUri)
  await finishFlow(flow, callback.url)
}

/** A complete sign-in with a passkey alone: its options, the authenticator's answer, tokens. */
const rp = signinRelyingParty(signin.context)
async function onePasskeySignIn(key: SoftPasskey): Promise<void> {
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const page = await openSignIn(http, flow)
  const options = JSON.parse((await http.get(`${page.url}/passkey-sign-in/options`)).text)
  const answer = await http.post(`${page.url}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response: JSON.stringify(key.authenticate(options, { origin: rp.origin })) })
  await finishFlow(flow, (await followToCallbackOrPage(http, answer, flow.redirectUri)).url)
}
const passkeyHolder = await addAccount(signin.context.db, { email: 'bench.passkey@example.com', password: demoPassword })
const benchKey = new SoftPasskey()
const who = { accountId: passkeyHolder.id, email: passkeyHolder.email, ip: undefined }
await registrationOptions(signin.context.db, signin.context.store, rp, { id: who.accountId, email: who.email, name: 'Bench' }, 'bench').then((options) =>
  addPasskey(signin.context, who, 'bench', JSON.stringify(benchKey.register(options, { origin: rp.origin })), 'Bench'))

// One at a time, the median of a whole sign-in with each second factor. An app code is
// accepted once per 30-second step, so each app sign-in is a different account.
const rounds = Number(process.env.BENCH_ROUNDS ?? 15)
const emailTimes: number[] = []
const appTimes: number[] = []
const passkeyTimes: number[] = []
for (let i = 0; i < rounds; i++) {
  const account = await addAccount(signin.context.db, { email: `bench.app.${i}@example.com`, password: demoPassword })
  const secret = newAppSecret()
  await addConfirmedApp(signin.context.db, account.id, secret, signin.context.codeKey, new Date())
  let begun = performance.now()
  await oneSignIn(`bench.app.${i}@example.com`, secret)
  appTimes.push(performance.now() - begun)
  begun = performance.now()
  await oneSignIn()
  emailTimes.push(performance.now() - begun)
  begun = performance.now()
  await onePasskeySignIn(benchKey)
  passkeyTimes.push(performance.now() - begun)
}
console.warn(`one complete sign-in (authorization request to tokens), median of ${rounds}: password + emailed code ${median(emailTimes).toFixed(0)} ms; password + authenticator app ${median(appTimes).toFixed(0)} ms; passkey alone ${median(passkeyTimes).toFixed(1)} ms`)

const total = Number(process.env.BENCH_SIGN_INS ?? 60)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4)
// One account per worker: a new emailed code replaces the one before it for that address.
const workers = Array.from({ length: concurrency }, (_, i) => `bench.worker.${i}@example.com`)
for (const email of workers) await addAccount(signin.context.db, { email, password: demoPassword })
const start = performance.now()
let started = 0
await Promise.all(workers.map(async (email) => {
  while (started < total) {
    started++
    await oneSignIn(email)
  }
}))
const seconds = (performance.now() - start) / 1000
console.warn(`${total} complete sign-ins, concurrency ${concurrency}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'default (4)'}: ${(total / seconds).toFixed(1)} per second (${(seconds * 1000 / total).toFixed(0)} ms each on average)`)
await signin.close()

const services = await startTestServices()
const http = new HttpSession()
const home = await signInToPlacements(http, services.placements.url, 'anne.wilson@example.com')
const pages = Number(process.env.BENCH_PAGES ?? 2000)
let requested = 0
const pageStart = performance.now()
await Promise.all(Array.from({ length: 8 }, async () => {
  while (requested < pages) {
    requested++
    const response = await http.get(home.url)
    if (response.status !== 200) throw new Error(`page answered ${response.status}`)
  }
}))
const pageSeconds = (performance.now() - pageStart) / 1000
console.warn(`${pages} authenticated Placements page requests, concurrency 8: ${(pages / pageSeconds).toFixed(0)} per second (${(pageSeconds * 1000 / pages).toFixed(1)} ms each)`)
await services.close()
