import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { openDatabase } from '../src/platform/database.ts'
import type { PlacementsDatabase } from '../src/placements/database/schema.ts'
import { hashPassword } from '../src/signin/accounts/passwords.ts'
import type { SigninDatabase } from '../src/signin/database/schema.ts'
import { registerClient } from '../src/signin/provider/clients.ts'
import { HttpSession } from '../test/support/http-client.ts'
import { runCommand } from '../test/support/service-node.ts'
import { passSecondFactor } from '../test/support/second-factor.ts'
import { csrfFrom } from '../test/support/http-client.ts'
import { bareClient } from './bench/baselines.ts'
import type { LoadResult } from './bench/http-load.ts'
import type { PagesJob, SignInJob, SignInResult } from './bench/load.ts'
import { peakRssMb, rssMb, runPinned, settledRssMb, startScript, waitForReady, waitUntilAnswers, type Pinned } from './bench/processes.ts'
import { addAppAccounts, addPlacementsMember, type BenchAccount } from './bench/seed.ts'
import { datasetQueries } from './bench/dataset-queries.ts'
import { printTable, type Row } from './bench/table.ts'

/**
 * `npm run bench [-- --quick] [-- --backend postgres|pglite] [-- --no-dataset | --dataset-reuse]`: issue 9's
 * measures, in one run, on one core. Every server (Sign-in, Placements, and the baselines:
 * Argon2id, bare Express, bare oidc-provider, and the page floor: bare Express after the
 * session read and principal query every signed-in page makes) runs as its own process pinned to core 0
 * (`taskset -c 0`); every load generator runs as a separate process on core 1. Prints a
 * table: each measure, its raw figures, the ratio, the target, met or not. Figures, not
 * a test: never part of `npm test`. Localhost only, bounded by time.
 *
 * Backends: PostgreSQL + Redis (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres,
 * TEST_REDIS_URL, default redis://127.0.0.1:6379; databases of its own, dropped after; Redis
 * keys under a prefix of its own, deleted after) and the embedded PGlite (a temporary DATA_DIR).
 * `--dataset-reuse` measures the full size in the databases `npm run dataset` filled
 * (bench_dataset_signin, bench_dataset_placements) instead of loading it afresh (which
 * takes 5 to 11 minutes). `--cpu-prof` profiles both services (see scripts/bench/profile-summary.ts).
 * The full run (not --quick) also loads the large dataset (`npm run dataset`) and times
 * the queries issue 9 names at 1,000 rows and at full size.
 */
const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
// `--cpu-prof`: Sign-in and Placements write V8 CPU profiles (to bench-profiles/) for `node scripts/bench/profile-summary.ts`.
// Sign-in and Placements run as `npm start` runs them: its environment, Node flags and entry point (package.json).
// BENCH_NODE_FLAGS: more Node flags for them (space-separated, after those), to try a V8 setting or preload a probe.
const start = startScript()
// Compiled before anything is timed: the start measure is of a start, not of a build after an edit.
const built = await runCommand('scripts/build.js', [], { NODE_OPTIONS: '--disable-warning=ExperimentalWarning' })
if (built.code !== 0) throw new Error(`npm run build failed:\n${built.output}`)
const profileFlags = (service: string) => [
  ...start.nodeFlags,
  ...(argv.includes('--cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=bench-profiles/${service}`] : []),
  ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)
]
const backendArgument = argv.includes('--backend') ? argv[argv.indexOf('--backend') + 1] : undefined
const backends = (backendArgument ? [backendArgument] : ['postgres', 'pglite']) as Array<'postgres' | 'pglite'>
const serverUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const timing = quick
  ? { signInMs: 3000, warmUp: 1, pageMs: 2000 as number | undefined, pageRequests: undefined as number | undefined, argon2Ms: 1500, expressMs: 1500 }
  // 30,000 page requests (the memory target's count), or 45 s if that comes first.
  : { signInMs: 15_000, warmUp: 4, pageMs: 45_000 as number | undefined, pageRequests: 30_000 as number | undefined, argon2Ms: 5000, expressMs: 5000 }
// BENCH_SIGNIN_SECONDS / BENCH_PAGE_SECONDS: measure longer (for a profile, say).
// BENCH_PAGE_REQUESTS: exactly that many page requests, however long they take (the memory
// target's 30,000 with --quick: `BENCH_PAGE_REQUESTS=30000 npm run bench -- --quick --backend postgres`).
if (process.env.BENCH_SIGNIN_SECONDS) timing.signInMs = Number(process.env.BENCH_SIGNIN_SECONDS) * 1000
if (process.env.BENCH_PAGE_SECONDS) Object.assign(timing, { pageMs: Number(process.env.BENCH_PAGE_SECONDS) * 1000, pageRequests: undefined })
if (process.env.BENCH_PAGE_REQUESTS) Object.assign(timing, { pageMs: undefined, pageRequests: Number(process.env.BENCH_PAGE_REQUESTS) })
const signInConcurrency = 8
const pageConnections = 8
const serverThreads = '2'
const log = (message: string) => console.warn(`${new Date().toISOString().slice(11, 19)} ${message}`)
const password = 'a bench password nobody would choose 2026'
const rows: Row[] = []

const percent = (share: number) => `${(share * 100).toFixed(1)} %`

async function load<T>(job: SignInJob | PagesJob): Promise<T> {
  const jobFile = path.join(tmpdir(), `bench-job-${randomBytes(4).toString('hex')}.json`)
  writeFileSync(jobFile, JSON.stringify(job))
  const loader = runPinned(1, ['scripts/bench/load.ts', jobFile], {})
  loader.finished.finally(() => rmSync(jobFile, { force: true })).catch(() => {})
  return JSON.parse(await loader.finished) as T
}

async function freePort(): Promise<number> {
  const { freePort: free } = await import('../test/support/backing-servers.ts')
  return free()
}

// 1. The hash limit on core 0.
log('Argon2id verifications on core 0…')
const argon2 = JSON.parse(await runPinned(0, ['scripts/bench/baselines.ts', 'argon2', String(timing.argon2Ms)], { UV_THREADPOOL_SIZE: '1' }).finished) as { perSecond: number, msEach: number, cpuMsEach: number }
rows.push({ measure: 'Argon2id verifications/s on core 0 (the limit)', raw: `${argon2.perSecond.toFixed(0)}/s (${argon2.msEach.toFixed(1)} ms each; CPU ${argon2.cpuMsEach.toFixed(1)} ms each)` })

// One account per sign-in (an app code is accepted once per 30-second step): enough to
// sign in at twice the hash limit just measured (or 200 a second) for the whole measurement.
// (A run out of accounts fails loudly rather than measure less.)
// On PGlite even the bare provider reaches only a fraction of the limit: fewer accounts to write.
const accountsPerRun = (backend: 'postgres' | 'pglite') =>
  Math.ceil((backend === 'postgres' ? Math.max(200, 2 * argon2.perSecond) : Math.max(50, argon2.perSecond)) * timing.signInMs / 1000) + signInConcurrency * (timing.warmUp + 1)
let express: (LoadResult & { serverCpuMs: number }) | undefined
const passwordHash = await hashPassword(password)

for (const backend of backends) {
  const label = backend === 'postgres' ? 'PG+Redis' : 'PGlite'
  log(`${label}: preparing databases`)
  const tag = randomBytes(4).toString('hex')
  const cleanups: Array<() => Promise<void>> = []
  const codeKey = randomBytes(32).toString('base64url')
  const storeEnv: NodeJS.ProcessEnv = {}
  // The page floor's own database (on PGlite, its own folder under DATA_DIR: one process per folder).
  const floorEnv: NodeJS.ProcessEnv = { PLACEMENTS_REDIS_PREFIX: `bench-${tag}:page-floor:` }
  let dataDir: string | undefined
  if (backend === 'postgres') {
    const admin = new pg.Client({ connectionString: serverUrl })
    await admin.connect()
    for (const name of ['signin', 'placements', 'floor']) await admin.query(`create database bench_${name}_${tag}`)
    await admin.end()
    const urlOf = (name: string) => Object.assign(new URL(serverUrl), { pathname: `/bench_${name}_${tag}` }).toString()
    Object.assign(storeEnv, {
      SIGNIN_DATABASE_URL: urlOf('signin'), PLACEMENTS_DATABASE_URL: urlOf('placements'), REDIS_URL: redisUrl,
      SIGNIN_REDIS_PREFIX: `bench-${tag}:signin:`, PLACEMENTS_REDIS_PREFIX: `bench-${tag}:placements:`
    })
    floorEnv.PLACEMENTS_DATABASE_URL = urlOf('floor')
    cleanups.push(async () => {
      const cleanup = new pg.Client({ connectionString: serverUrl })
      await cleanup.connect()
      for (const name of ['signin', 'placements', 'floor']) await cleanup.query(`drop database if exists bench_${name}_${tag} with (force)`)
      await cleanup.end()
      const redis = new Redis(redisUrl)
      for (const prefix of [`bench-${tag}:*`, 'bench-bare:*']) {
        const keys = await redis.keys(prefix)
        if (keys.length > 0) await redis.del(...keys)
      }
      redis.disconnect()
    })
  } else {
    dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'))
    Object.assign(storeEnv, { DATA_DIR: dataDir, REDIS_URL: '' })
    cleanups.push(async () => rmSync(dataDir!, { recursive: true, force: true }))
  }
  const signinLocation = backend === 'postgres' ? { url: storeEnv.SIGNIN_DATABASE_URL! } : { directory: path.join(dataDir!, 'signin') }
  const placementsLocation = backend === 'postgres' ? { url: storeEnv.PLACEMENTS_DATABASE_URL! } : { directory: path.join(dataDir!, 'placements') }
  const [signinPort, placementsPort, barePort] = [await freePort(), await freePort(), await freePort()]
  const signinUrl = `http://127.0.0.1:${signinPort}`
  const placementsUrl = `http://localhost:${placementsPort}`
  const placementsClient = { clientId: 'manage-school-placements', secret: randomBytes(24).toString('base64url') }
  const rpClient = { clientId: 'bench-rp', secret: randomBytes(24).toString('base64url'), redirectUri: 'http://localhost:4999/callback' }
  const signinEnv: NodeJS.ProcessEnv = {
    ...start.env, ...storeEnv, START: 'signin', NODE_ENV: 'production', SIGNIN_URL: signinUrl, SIGNIN_PORT: String(signinPort),
    SIGNIN_CODE_KEY: codeKey, SUPPORT_EMAIL: 'signin-support@example.com', UV_THREADPOOL_SIZE: serverThreads
  }
  const placementsEnv: NodeJS.ProcessEnv = {
    ...start.env, ...storeEnv, START: 'placements', NODE_ENV: 'test', PLACEMENTS_URL: placementsUrl, PLACEMENTS_PORT: String(placementsPort),
    OIDC_ISSUER_URL: signinUrl, OIDC_CLIENT_ID: placementsClient.clientId, OIDC_CLIENT_SECRET: placementsClient.secret, UV_THREADPOOL_SIZE: serverThreads
  }
  const services: Pinned[] = []
  try {
    const migrated = await runCommand('src/cli/migrate.ts', [], { ...placementsEnv, ...signinEnv, START: '' }, 120_000)
    if (migrated.code !== 0) throw new Error(`migrate failed:\n${migrated.output}`)
    const signinDb = await openDatabase<SigninDatabase>(signinLocation)
    const bareAccounts = await addAppAccounts(signinDb, { tag: `${tag}.bare`, count: accountsPerRun(backend), password, passwordHash, codeKey: Buffer.from(codeKey, 'utf8') })
    const ourAccounts = await addAppAccounts(signinDb, { tag: `${tag}.ours`, count: accountsPerRun(backend) + 1, password, passwordHash, codeKey: Buffer.from(codeKey, 'utf8') })
    const pageAccount = ourAccounts.pop()!
    await registerClient(signinDb, { clientId: rpClient.clientId, name: 'Bench relying party', secret: rpClient.secret, redirectUris: [rpClient.redirectUri], postLogoutRedirectUris: [] }, new Date())
    await registerClient(signinDb, {
      clientId: placementsClient.clientId, name: 'Manage school placements', secret: placementsClient.secret,
      redirectUris: [`${placementsUrl}/auth/callback`], postLogoutRedirectUris: [`${placementsUrl}/signed-out`], clientUri: `${placementsUrl}/`
    }, new Date())
    await signinDb.destroy()
    const placementsDb = await openDatabase<PlacementsDatabase>(placementsLocation)
    await addPlacementsMember(placementsDb, pageAccount.email)
    await placementsDb.destroy()

    // 2. The library's floor: bare oidc-provider with a minimal password + app-code sign-in, same stores.
    log(`${label}: bare oidc-provider sign-ins…`)
    // The floor runs with the services' Node flags too: with V8 set for memory, each sign-in costs more CPU (ADR 23), in both or in neither.
    const bare = runPinned(0, ['scripts/bench/baselines.ts', 'provider', String(barePort)], { ...signinEnv, UV_THREADPOOL_SIZE: serverThreads }, start.nodeFlags)
    await waitForReady(bare)
    const bareResult = await load<SignInResult>(signInJob(`http://127.0.0.1:${barePort}`, { ...bareClient }, bareAccounts, bare.child.pid!))
    await bare.stop()

    // 3. Our services, each its own process on core 0.
    log(`${label}: starting Sign-in and Placements`)
    // Started together, as `npm start` starts both: each must answer within 10 s.
    const signin = runPinned(0, [start.entry], signinEnv, profileFlags(`signin-${backend}`))
    const placements = runPinned(0, [start.entry], placementsEnv, profileFlags(`placements-${backend}`))
    services.push(signin, placements)
    const [signinStartMs, placementsStartMs] = await Promise.all([waitUntilAnswers(`${signinUrl}/readyz`, signin), waitUntilAnswers(`${placementsUrl}/readyz`, placements)])
    const [signinIdle, placementsIdle] = await Promise.all([settledRssMb(signin.child.pid!), settledRssMb(placements.child.pid!)])
    const idle = { signin: signinIdle, placements: placementsIdle }
    const startPeak = { signin: peakRssMb(signin.child.pid!), placements: peakRssMb(placements.child.pid!) }

    log(`${label}: complete sign-ins…`)
    const ours = await load<SignInResult>(signInJob(signinUrl, rpClient, ourAccounts, signin.child.pid!))

    log(`${label}: signed-in Placements page…`)
    const http = new HttpSession()
    const page = await signInToPlacements(http, placementsUrl, pageAccount)
    const cookie = http.cookies(page.url).map((c) => `${c.name}=${c.value}`).join('; ')
    const pages = await load<LoadResult & { serverCpuMs: number }>({ kind: 'pages', url: page.url, cookie, connections: pageConnections, durationMs: timing.pageMs, requests: timing.pageRequests, serverPid: placements.child.pid! })
    if (pages.wrongStatus > 0) throw new Error(`${pages.wrongStatus} page requests did not answer 200`)
    const after = { signin: rssMb(signin.child.pid!), placements: rssMb(placements.child.pid!) }
    for (const service of services.splice(0)) await service.stop()

    // 4. The page's floor: bare Express on a page of the same size, after the same two reads
    // (session record, principal), with the services' Node flags as the page ran with them.
    log(`${label}: page floor (Express + session read + principal query)…`)
    const floorPort = await freePort()
    const floorServer = runPinned(0, ['scripts/bench/baselines.ts', 'page-floor', String(floorPort), String(page.text.length)], { ...start.env, ...storeEnv, ...floorEnv, UV_THREADPOOL_SIZE: serverThreads }, start.nodeFlags)
    // On PGlite it creates and migrates a data folder first (about 10 s on this machine): as long as a service may take to answer.
    await waitForReady(floorServer, 60_000)
    const floor = await load<LoadResult & { serverCpuMs: number }>({ kind: 'pages', url: `http://127.0.0.1:${floorPort}/`, cookie: '', connections: pageConnections, durationMs: timing.expressMs, serverPid: floorServer.child.pid! })
    await floorServer.stop()
    if (floor.wrongStatus > 0) throw new Error(`${floor.wrongStatus} page floor requests did not answer 200`)

    if (express === undefined) {
      log('bare Express on a fixed page of the same size…')
      const expressPort = await freePort()
      const server = runPinned(0, ['scripts/bench/baselines.ts', 'express', String(expressPort), String(page.text.length)], { UV_THREADPOOL_SIZE: serverThreads })
      await waitForReady(server)
      express = await load<LoadResult & { serverCpuMs: number }>({ kind: 'pages', url: `http://127.0.0.1:${expressPort}/`, cookie: '', connections: pageConnections, durationMs: timing.expressMs, serverPid: server.child.pid! })
      await server.stop()
      rows.push({ measure: `bare Express, fixed ${(page.text.length / 1024).toFixed(0)} KB page, req/s`, raw: `${express.perSecond.toFixed(0)}/s (CPU ${(1000 * express.serverCpuMs / express.requests).toFixed(0)} µs each)` })
    }

    // Ratios from CPU time (the server's own, all threads, during the measurement): on a
    // core shared with other work, rates vary with that work; CPU per operation much less.
    const cpuPerSignIn = ours.serverCpuMs / ours.signIns
    const barePerSignIn = bareResult.serverCpuMs / bareResult.signIns
    const cpuPerPage = pages.serverCpuMs / pages.requests
    const cpuPerExpress = express.serverCpuMs / express.requests
    const cpuPerFloor = floor.serverCpuMs / floor.requests
    const microseconds = (ms: number) => `${(1000 * ms).toFixed(0)} µs`
    rows.push(
      { measure: `${label}: bare oidc-provider sign-in (floor)`, raw: `${bareResult.perSecond.toFixed(1)}/s, p95 ${bareResult.p95Ms.toFixed(0)} ms; CPU ${barePerSignIn.toFixed(1)} ms each`, ratio: argon2.cpuMsEach / barePerSignIn, note: 'of the hash limit' },
      { measure: `${label}: complete sign-in (password + app code)`, raw: `${ours.perSecond.toFixed(1)}/s, p95 ${ours.p95Ms.toFixed(0)} ms (n=${ours.signIns}); CPU ${cpuPerSignIn.toFixed(1)} ms each; by rate ${percent(ours.perSecond / argon2.perSecond)}`, ratio: argon2.cpuMsEach / cpuPerSignIn, target: backend === 'postgres' ? 0.55 : 0.40, note: 'of the hash limit' },
      { measure: `${label}: CPU per sign-in beyond the hash`, raw: `ours ${(cpuPerSignIn - argon2.cpuMsEach).toFixed(1)} ms, floor ${(barePerSignIn - argon2.cpuMsEach).toFixed(1)} ms`, atMost: backend === 'postgres' ? 5 : undefined, value: cpuPerSignIn - argon2.cpuMsEach, unit: 'ms' },
      { measure: `${label}: signed-in page`, raw: `${pages.perSecond.toFixed(0)}/s, p50 ${pages.p50Ms.toFixed(1)} ms (n=${pages.requests}); CPU ${(1000 * cpuPerPage).toFixed(0)} µs each; by rate ${percent(pages.perSecond / express.perSecond)}`, ratio: cpuPerExpress / cpuPerPage, target: backend === 'postgres' ? 0.25 : 0.12, note: 'of bare Express' },
      { measure: `${label}: page floor (Express + session read + principal query)`, raw: `${floor.perSecond.toFixed(0)}/s, p50 ${floor.p50Ms.toFixed(1)} ms, p99 ${floor.p99Ms.toFixed(1)} ms (n=${floor.requests}); CPU ${microseconds(cpuPerFloor)} each`, ratio: cpuPerExpress / cpuPerFloor, note: 'of bare Express' },
      // The page's CPU beyond bare Express, split: the store round trips themselves (floor − Express), and ours (page − floor).
      { measure: `${label}: page CPU beyond the floor`, raw: `ours ${microseconds(cpuPerPage - cpuPerFloor)}, the reads ${microseconds(cpuPerFloor - cpuPerExpress)} (page ${microseconds(cpuPerPage)}, floor ${microseconds(cpuPerFloor)}, Express ${microseconds(cpuPerExpress)})`, value: cpuPerPage / cpuPerFloor, unit: '×' },
      { measure: `${label}: signed-in page p99, 8 connections`, raw: `${pages.p99Ms.toFixed(1)} ms`, atMost: 15, value: pages.p99Ms, unit: 'ms' },
      { measure: `${label}: Sign-in RSS idle`, raw: `${idle.signin.toFixed(0)} MB (peak during start ${startPeak.signin.toFixed(0)} MB)`, atMost: backend === 'postgres' ? 120 : 300, value: idle.signin, unit: 'MB' },
      { measure: `${label}: Sign-in RSS growth after sign-ins`, raw: `${idle.signin.toFixed(0)} → ${after.signin.toFixed(0)} MB (${ours.signIns} sign-ins, 8 requests each)`, atMost: backend === 'postgres' ? 0.25 : undefined, value: after.signin / idle.signin - 1, unit: '%' },
      { measure: `${label}: Placements RSS idle`, raw: `${idle.placements.toFixed(0)} MB (peak during start ${startPeak.placements.toFixed(0)} MB)`, atMost: backend === 'postgres' ? 120 : 300, value: idle.placements, unit: 'MB' },
      { measure: `${label}: Placements RSS growth after pages`, raw: `${idle.placements.toFixed(0)} → ${after.placements.toFixed(0)} MB (${pages.requests} requests)`, atMost: backend === 'postgres' ? 0.25 : undefined, value: after.placements / idle.placements - 1, unit: '%' },
      { measure: `${label}: start, fresh database, to /readyz`, raw: `Sign-in ${(signinStartMs / 1000).toFixed(1)} s, Placements ${(placementsStartMs / 1000).toFixed(1)} s`, atMost: 10, value: Math.max(signinStartMs, placementsStartMs) / 1000, unit: 's' }
    )
    if (ours.failures.length > 0 || bareResult.failures.length > 0) log(`sign-in failures: ${[...ours.failures, ...bareResult.failures].join('; ')}`)
  } finally {
    for (const service of services) await service.stop()
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`))
  }
}

if (!quick && !argv.includes('--no-dataset')) rows.push(...await datasetQueries(serverUrl, log, { reuse: argv.includes('--dataset-reuse') }))

printTable(rows)

function signInJob(issuer: string, client: { clientId: string, secret: string, redirectUri: string }, accounts: BenchAccount[], serverPid: number): SignInJob {
  return { kind: 'sign-ins', issuer, clientId: client.clientId, secret: client.secret, redirectUri: client.redirectUri, accounts, concurrency: signInConcurrency, durationMs: timing.signInMs, warmUp: timing.warmUp, serverPid }
}

/** Placements' sign-in link, Sign-in's form, the app code, back through the callback: the page it lands on. */
async function signInToPlacements(http: HttpSession, placementsUrl: string, account: BenchAccount) {
  const signinPage = await http.follow(await http.get(new URL('/sign-in', placementsUrl)))
  const answer = await http.post(signinPage.url, { _csrf: csrfFrom(signinPage.text), email: account.email, password: account.password })
  const page = await http.follow(await passSecondFactor(http, answer, { appSecret: account.appSecret }))
  if (page.status !== 200 || !page.url.startsWith(placementsUrl) || /name="password"/.test(page.text)) throw new Error(`Signing in to Placements ended at ${page.status} ${page.url}`)
  return page
}
