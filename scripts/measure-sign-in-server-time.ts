import { Server, type IncomingMessage, type ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Socket } from 'node:net'
import { PGlite } from '@electric-sql/pglite'
import { Redis } from 'ioredis'
import pg from 'pg'
import { addConfirmedApp, appCodeAt, newAppSecret } from '../src/signin/accounts/authenticator-app.ts'
import { addPasskey, signinRelyingParty } from '../src/signin/accounts/passkey-actions.ts'
import { registrationOptions } from '../src/signin/accounts/passkeys.ts'
import { csrfFrom, HttpSession } from '../test/support/http-client.ts'
import { beginFlow, discover, finishFlow, followToCallbackOrPage, openSignIn, submit } from '../test/support/oidc-flow.ts'
import { startTestSignin } from '../test/support/signin.ts'
import { addAccount } from '../test/support/signin-pages.ts'
import { SoftPasskey } from '../test/support/soft-passkey.ts'

/**
 * The server-side time of one complete sign-in (authorization request → pages → answer →
 * token exchange): the sum, over every HTTP request of the sign-in, of the time from
 * Sign-in's server receiving the request to its response finishing. The client (in the same
 * process) waits for each answer before sending the next, so this is Sign-in's own work.
 * Two kinds, one at a time, median of ROUNDS (default 21):
 *   - passkey alone (the tests' software authenticator, P-256);
 *   - password + authenticator app (TOTP), each round a new account (a code is used once),
 *     also request by request: CPU time (median) and store round trips.
 * And the enumeration check the tests leave to here: the server-side time of the answer
 * to a wrong password for a real account, and to any password for an unknown address
 * (both should be one Argon2id verification; the tests check that structurally).
 * For one core: `UV_THREADPOOL_SIZE=1 taskset -c 0 node scripts/measure-sign-in-server-time.ts`.
 */
process.env.NODE_ENV = 'test'
/**
 * Each request of a sign-in, as the server saw it (the client sends one at a time and waits,
 * so the process's CPU time meanwhile is the server's: its main thread and libuv's pool,
 * where the password hash runs), and its store round trips: a write to Redis' socket
 * (commands sent in the same tick go in one write, with auto-pipelining; a MULTI is one)
 * and an SQL statement each count one.
 */
interface Step { request: string, cpuMs: number, redis: number, sql: number }
let steps: Step[] = []
let current: Step | undefined
const countedSockets = new WeakSet<Socket>()
const sendCommand = Redis.prototype.sendCommand
Redis.prototype.sendCommand = function countedCommand(this: Redis, ...args: Parameters<Redis['sendCommand']>) {
  const socket = this.stream as Socket | undefined
  if (socket && !countedSockets.has(socket)) {
    countedSockets.add(socket)
    const write = socket.write
    socket.write = function countedWrite(this: Socket, ...writeArgs: unknown[]) {
      if (current) current.redis++
      return Reflect.apply(write, this, writeArgs) as boolean
    } as Socket['write']
  }
  return Reflect.apply(sendCommand, this, args) as ReturnType<Redis['sendCommand']>
} as Redis['sendCommand']
const query = pg.Client.prototype.query
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  if (current) current.sql++
  return Reflect.apply(query, this, args) as unknown
} as typeof pg.Client.prototype.query
// On PGlite a statement is not a round trip but runs in this process: counted the same.
const embeddedQuery = PGlite.prototype.query
PGlite.prototype.query = function countedEmbeddedQuery(this: PGlite, ...args: Parameters<PGlite['query']>) {
  if (current) current.sql++
  return Reflect.apply(embeddedQuery, this, args) as ReturnType<PGlite['query']>
} as PGlite['query']

let serverMs = 0
const emit = Server.prototype.emit
Server.prototype.emit = function timedEmit(this: Server, event: string, ...args: unknown[]) {
  if (event === 'request') {
    const { method, url } = args[0] as IncomingMessage
    const step: Step = { request: `${method} ${url!.split('?')[0]!.replace(/^\/(interaction|auth)\/[^/]+/, '/$1/<uid>')}`, cpuMs: 0, redis: 0, sql: 0 }
    current = step
    steps.push(step)
    const started = performance.now()
    const cpuBefore = process.cpuUsage()
    ;(args[1] as ServerResponse).once('finish', () => {
      serverMs += performance.now() - started
      const cpu = process.cpuUsage(cpuBefore)
      step.cpuMs = (cpu.user + cpu.system) / 1000
    })
  }
  return Reflect.apply(emit, this, [event, ...args]) as boolean
} as typeof Server.prototype.emit

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const signin = await startTestSignin()
const serviceUrl = 'http://localhost:4999'
const client = await signin.registerTestClient({ baseUrl: serviceUrl })
const config = await discover(signin.url, client.clientId, client.secret)
const rp = signinRelyingParty(signin.context)
const password = 'measure-password-long-enough'

const holder = await addAccount(signin.context.db, { email: 'measure.passkey@example.com', password })
const key = new SoftPasskey()
const who = { accountId: holder.id, email: holder.email, ip: undefined }
const options = await registrationOptions(signin.context.db, signin.context.store, rp, { id: holder.id, email: holder.email, name: 'Measure' }, 'measure')
await addPasskey(signin.context, who, 'measure', JSON.stringify(key.register(options, { origin: rp.origin })), 'Measure')

async function passkeySignIn(): Promise<void> {
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const page = await openSignIn(http, flow)
  const challenge = JSON.parse((await http.get(`${page.url}/passkey-sign-in/options`)).text)
  const answer = await http.post(`${page.url}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response: JSON.stringify(key.authenticate(challenge, { origin: rp.origin })) })
  await finishFlow(flow, (await followToCallbackOrPage(http, answer, flow.redirectUri)).url)
}

async function appSignIn(round: number): Promise<void> {
  const email = `measure.app.${round}@example.com`
  const account = await addAccount(signin.context.db, { email, password })
  const secret = newAppSecret()
  await addConfirmedApp(signin.context.db, account.id, secret, signin.context.codeKey, new Date())
  // Making the account (a password hash) is not part of the sign-in: counting starts here.
  serverMs = 0
  steps = []
  const http = new HttpSession()
  const flow = await beginFlow(config, `${serviceUrl}/callback`)
  const page = await openSignIn(http, flow)
  const afterPassword = await submit(http, page, page.url, { email, password })
  const appPage = await http.get(new URL(afterPassword.headers.get('location')!, afterPassword.url))
  const answer = await http.post(appPage.url, { _csrf: csrfFrom(appPage.text), code: appCodeAt(secret, new Date()) })
  await finishFlow(flow, (await followToCallbackOrPage(http, answer, flow.redirectUri)).url)
}

const known = await addAccount(signin.context.db, { email: 'measure.known@example.com', password })
/** Server-side time of the answer to one wrong sign-in (a 400), from a sign-in page already open. */
async function wrongSignIn(email: string): Promise<number> {
  await signin.context.throttle.clear(email) // stay under the lockout: the count is not what is measured
  const http = new HttpSession()
  const page = await openSignIn(http, await beginFlow(config, `${serviceUrl}/callback`))
  serverMs = 0
  const answer = await submit(http, page, page.url, { email, password: 'not-the-password-at-all' })
  if (answer.status !== 400) throw new Error(`a wrong sign-in answered ${answer.status}`)
  return serverMs
}

const rounds = Number(process.env.ROUNDS ?? 21)
const passkeyTimes: number[] = []
const appTimes: number[] = []
const appSteps: Step[][] = []
await passkeySignIn()
for (let i = 0; i < rounds; i++) {
  serverMs = 0
  await passkeySignIn()
  passkeyTimes.push(serverMs)
  await appSignIn(i)
  appTimes.push(serverMs)
  appSteps.push(steps)
  steps = []
}
console.warn(`server-side time of one complete sign-in, median of ${rounds}: passkey alone ${median(passkeyTimes).toFixed(1)} ms; password + authenticator app ${median(appTimes).toFixed(1)} ms`)

// The password + app sign-in request by request: CPU (median over the rounds) and store round trips.
const requests = appSteps[0]!.map((step) => step.request)
for (const [i, request] of requests.entries()) {
  const step = appSteps[0]![i]!
  console.warn(`  ${request}: CPU ${median(appSteps.map((round) => round[i]!.cpuMs)).toFixed(2)} ms, Redis ${step.redis}, SQL ${step.sql}`)
}
const sum = (round: Step[], key: 'cpuMs' | 'redis' | 'sql') => round.reduce((total, step) => total + step[key], 0)
console.warn(`  in all: CPU ${median(appSteps.map((round) => sum(round, 'cpuMs'))).toFixed(1)} ms (the password hash included), Redis ${sum(appSteps[0]!, 'redis')}, SQL ${sum(appSteps[0]!, 'sql')} round trips`)

// Taken in turns, so a change in the machine's load falls on both alike.
const wrongPassword: number[] = []
const unknownAddress: number[] = []
await wrongSignIn(`measure.unknown.warm-up@example.com`)
for (let i = 0; i < rounds; i++) {
  wrongPassword.push(await wrongSignIn(known.email))
  unknownAddress.push(await wrongSignIn(`measure.unknown.${i}@example.com`))
}
console.warn(`server-side time of a refused sign-in, median of ${rounds}: wrong password for a real account ${median(wrongPassword).toFixed(1)} ms; unknown address ${median(unknownAddress).toFixed(1)} ms (ratio ${(median(unknownAddress) / median(wrongPassword)).toFixed(2)})`)
await signin.close()
