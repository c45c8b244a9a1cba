import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { HttpSession } from '../../test/support/http-client.ts'
import { beginFlow, discover, finishFlow, followToCallbackOrPage, openSignIn, submit } from '../../test/support/oidc-flow.ts'
import { passSecondFactor } from '../../test/support/second-factor.ts'
import { httpLoad, percentile } from './http-load.ts'
import { cpuMs } from './processes.ts'

/**
 * The load process of `npm run bench`, run on the other core (`taskset -c 1`) from the
 * server it measures. Reads one job (JSON) from the file named by its argument, prints one result (JSON).
 *
 * - `sign-ins`: complete OpenID Connect sign-ins as a relying party makes them, with
 *   openid-client: authorization request → sign-in page → password → authenticator-app
 *   code → callback → token exchange and ID token check (signature, nonce, PKCE). Each
 *   account is used once per run, since an app code is accepted once per 30-second step.
 * - `pages`: GET one page with a session cookie on `connections` keep-alive connections.
 */
export interface SignInJob {
  kind: 'sign-ins'
  issuer: string
  clientId: string
  secret: string
  redirectUri: string
  accounts: Array<{ email: string, password: string, appSecret: string }>
  concurrency: number
  durationMs: number
  warmUp: number
  /** The server's process: its CPU time is read at the start and end of the measurement. */
  serverPid: number
}

export interface PagesJob {
  kind: 'pages'
  url: string
  cookie: string
  connections: number
  requests?: number
  durationMs?: number
  serverPid: number
}

export interface SignInResult {
  signIns: number
  seconds: number
  perSecond: number
  p50Ms: number
  p95Ms: number
  /** The server's CPU time during the measurement. */
  serverCpuMs: number
  failures: string[]
}

async function signIns(job: SignInJob): Promise<SignInResult> {
  const config = await discover(job.issuer, job.clientId, job.secret)
  let next = 0
  const one = async (account: SignInJob['accounts'][number]) => {
    const http = new HttpSession()
    const flow = await beginFlow(config, job.redirectUri)
    const page = await openSignIn(http, flow)
    if (page.status !== 200) throw new Error(`sign-in page answered ${page.status} at ${page.url}`)
    const answer = await submit(http, page, page.url, { email: account.email, password: account.password })
    const callback = await followToCallbackOrPage(http, await passSecondFactor(http, answer, { appSecret: account.appSecret }), flow.redirectUri)
    if (!callback.url.startsWith(flow.redirectUri)) throw new Error(`sign-in ended at ${callback.status} ${callback.url}`)
    const tokens = await finishFlow(flow, callback.url)
    if (!tokens.claims()?.sub) throw new Error('no ID token subject')
  }
  const take = () => {
    const account = job.accounts[next++]
    if (!account) throw new Error('Ran out of bench accounts: make more, or measure for less time')
    return account
  }
  // Warm up (JIT, connection pools, caches), then measure for a fixed time.
  await Promise.all(Array.from({ length: job.concurrency }, async () => {
    for (let i = 0; i < job.warmUp; i++) await one(take())
  }))
  const latencies: number[] = []
  const failures: string[] = []
  const cpuBefore = cpuMs(job.serverPid)
  const begun = performance.now()
  const deadline = begun + job.durationMs
  await Promise.all(Array.from({ length: job.concurrency }, async () => {
    while (performance.now() < deadline) {
      const started = performance.now()
      try {
        await one(take())
        latencies.push(performance.now() - started)
      } catch (error) {
        failures.push((error as Error).message)
        if (failures.length > 20) throw error
      }
    }
  }))
  const seconds = (performance.now() - begun) / 1000
  const serverCpuMs = cpuMs(job.serverPid) - cpuBefore
  latencies.sort((a, b) => a - b)
  return { signIns: latencies.length, seconds, perSecond: latencies.length / seconds, p50Ms: percentile(latencies, 0.5), p95Ms: percentile(latencies, 0.95), serverCpuMs, failures: failures.slice(0, 3) }
}

if (import.meta.main) {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as SignInJob | PagesJob
  let result: unknown
  if (job.kind === 'sign-ins') {
    result = await signIns(job)
  } else {
    // A short warm-up first (JIT, pools), then the measurement.
    await httpLoad({ url: job.url, headers: { cookie: job.cookie }, connections: job.connections, requests: 200 })
    const cpuBefore = cpuMs(job.serverPid)
    const pages = await httpLoad({ url: job.url, headers: { cookie: job.cookie }, connections: job.connections, requests: job.requests, durationMs: job.durationMs })
    result = { ...pages, serverCpuMs: cpuMs(job.serverPid) - cpuBefore }
  }
  process.stdout.write(JSON.stringify(result))
}
