import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { openDatabase } from '../../src/platform/database.ts'
import type { PlacementsDatabase } from '../../src/placements/database/schema.ts'
import { normaliseEmail } from '../../src/placements/domain/users.ts'
import type { SigninDatabase } from '../../src/signin/database/schema.ts'
import { registerClient } from '../../src/signin/provider/clients.ts'
import { freePort, startPostgresServer, startRedisServer, type PostgresServer, type RedisServer } from './backing-servers.ts'
import { startRoundRobinProxy, type RoundRobinProxy } from './round-robin-proxy.ts'
import { runCommand, spawnServiceNode, type NodeExit, type ServiceName, type ServiceNode } from './service-node.ts'
import { addAccount } from './signin-pages.ts'
import { codeReaders } from './second-factor.ts'

/**
 * Several nodes of each service, as an operator runs them: real `node src/start.ts`
 * processes on PostgreSQL and Redis, behind a round-robin proxy per service (so all of a
 * service's nodes share one public URL: one issuer, one redirect URI). Everything is the
 * test's own: a PostgreSQL server (or one per service), a redis-server, the proxies. A
 * test may stop and start any of them, signal any node, and start more nodes.
 *
 *   const cluster = await startCluster()           // 2 Sign-in + 2 Placements nodes, ready
 *   after(() => cluster.close())
 *   await cluster.addSigninAccount({ email, password })
 *   await cluster.addPlacementsUser({ email })     // a member of a new school
 *   const http = new HttpSession()                 // then drive cluster.placements.url
 *   await cluster.redis.stop(); …; await cluster.redis.start()
 *   await cluster.signin.nodes[0]!.stop('SIGTERM')
 *
 * How it starts: the databases are created and migrated with `npm run migrate`'s script
 * (migrate, then start, as in production); Placements is registered as a client of
 * Sign-in for the proxy's URLs; then the first node of each service starts alone and the
 * others once it is ready (the first start's one-off work, signing keys and cookie keys,
 * is safe either way; this keeps each test's start-up quick and its output readable).
 * `startTogether: true` starts them all at once instead, as the cold-start test does.
 * Sign-in runs with NODE_ENV=production; Placements with NODE_ENV=test, the
 * only way it accepts an http:// issuer.
 */
export interface ClusterOptions {
  signinNodes?: number
  placementsNodes?: number
  /** Placements' database on a PostgreSQL server of its own, so that each service's database can be stopped alone. */
  separateDatabaseServers?: boolean
  /** More settings for every node of one service (SHUTDOWN_GRACE_SECONDS, say). */
  signinEnv?: NodeJS.ProcessEnv
  placementsEnv?: NodeJS.ProcessEnv
  /** Start every node at the same moment on the fresh databases. */
  startTogether?: boolean
}

export interface ServiceGroup<Schema> {
  readonly name: ServiceName
  /** The service's public URL: the proxy's. */
  readonly url: string
  readonly proxy: RoundRobinProxy
  /** Every node started, running or not, in order of starting. */
  readonly nodes: ServiceNode[]
  readonly postgres: PostgresServer
  readonly databaseUrl: string
  /** The test's own connection to the service's database: to make data and read what the service wrote. */
  readonly db: Kysely<Schema>
  /** The settings its nodes run with (without the port). */
  readonly env: NodeJS.ProcessEnv
  /** Starts one more node on a free port behind the proxy; waits until it is ready unless told not to. */
  startNode(options?: { env?: NodeJS.ProcessEnv, waitUntilReady?: boolean }): Promise<ServiceNode>
  /** Sends a signal to a node and waits for it to exit; it then leaves the proxy. */
  stopNode(node: ServiceNode, signal?: NodeJS.Signals): Promise<NodeExit>
}

export interface Cluster {
  readonly signin: ServiceGroup<SigninDatabase>
  readonly placements: ServiceGroup<PlacementsDatabase>
  readonly redis: RedisServer
  /** Placements' registration at Sign-in. */
  readonly client: { clientId: string, secret: string }
  /** A Sign-in account (with a password), made straight in Sign-in's database. */
  addSigninAccount(account: { email: string, password?: string, givenName?: string, familyName?: string }): Promise<void>
  /** A Placements user who is a member of an organisation (a new school unless named). */
  addPlacementsUser(person: { email: string, givenName?: string, familyName?: string, organisationName?: string }): Promise<{ userId: string, organisationId: string }>
  /** The 6-digit code in the newest email Sign-in wrote to this address. */
  latestSigninCode(email: string): Promise<string>
  /** Every node's output, labelled: put it in a failing assertion's message. */
  output(): string
  /** Stops every node, proxy and server; safe to call twice. */
  close(): Promise<void>
}

/** The password `addSigninAccount` gives when none is named. */
export const clusterPassword = 'a perfectly ordinary test passphrase 2026'

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const closers: Array<() => Promise<void>> = []
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => {})
  }
  try {
    const signinPostgres = await startPostgresServer()
    closers.push(() => signinPostgres.destroy())
    const placementsPostgres = options.separateDatabaseServers ? await startPostgresServer() : signinPostgres
    if (placementsPostgres !== signinPostgres) closers.push(() => placementsPostgres.destroy())
    const redis = await startRedisServer()
    closers.push(() => redis.destroy())
    const signinDatabaseUrl = await signinPostgres.createDatabase('signin')
    const placementsDatabaseUrl = await placementsPostgres.createDatabase('placements')

    const signinProxy = await startRoundRobinProxy()
    const placementsProxy = await startRoundRobinProxy()
    closers.push(() => signinProxy.close(), () => placementsProxy.close())

    const client = { clientId: 'manage-school-placements', secret: randomBytes(24).toString('base64url') }
    const signinEnv: NodeJS.ProcessEnv = {
      NODE_ENV: 'production',
      SIGNIN_URL: signinProxy.url,
      SIGNIN_DATABASE_URL: signinDatabaseUrl,
      REDIS_URL: redis.url,
      SUPPORT_EMAIL: 'signin-support@example.com',
      ...options.signinEnv
    }
    const placementsEnv: NodeJS.ProcessEnv = {
      NODE_ENV: 'test',
      PLACEMENTS_URL: placementsProxy.url,
      PLACEMENTS_DATABASE_URL: placementsDatabaseUrl,
      REDIS_URL: redis.url,
      OIDC_ISSUER_URL: signinProxy.url,
      OIDC_CLIENT_ID: client.clientId,
      OIDC_CLIENT_SECRET: client.secret,
      ...options.placementsEnv
    }
    // Migrate, then start: the command runs with the services' own settings, as in production.
    const migrated = await runCommand('src/cli/migrate.ts', [], { ...placementsEnv, ...signinEnv })
    if (migrated.code !== 0) throw new Error(`npm run migrate failed:\n${migrated.output}`)

    const signinDb = await openDatabase<SigninDatabase>({ url: signinDatabaseUrl })
    const placementsDb = await openDatabase<PlacementsDatabase>({ url: placementsDatabaseUrl })
    closers.push(() => signinDb.destroy(), () => placementsDb.destroy())
    await registerClient(signinDb, {
      clientId: client.clientId,
      name: 'Manage school placements',
      secret: client.secret,
      redirectUris: [`${placementsProxy.url}/auth/callback`],
      postLogoutRedirectUris: [`${placementsProxy.url}/signed-out`],
      clientUri: `${placementsProxy.url}/`
    }, new Date())

    const signin = serviceGroup<SigninDatabase>('signin', signinProxy, signinPostgres, signinDatabaseUrl, signinDb, signinEnv)
    const placements = serviceGroup<PlacementsDatabase>('placements', placementsProxy, placementsPostgres, placementsDatabaseUrl, placementsDb, placementsEnv)
    closers.push(async () => {
      await Promise.all([...signin.nodes, ...placements.nodes].map(stopWithin15Seconds))
    })

    const signinCount = options.signinNodes ?? 2
    const placementsCount = options.placementsNodes ?? 2
    const startMany = (group: Pick<ServiceGroup<unknown>, 'startNode'>, count: number) => Array.from({ length: count }, () => group.startNode())
    if (options.startTogether) {
      await Promise.all([...startMany(signin, signinCount), ...startMany(placements, placementsCount)])
    } else {
      await Promise.all([...startMany(signin, Math.min(1, signinCount)), ...startMany(placements, Math.min(1, placementsCount))])
      await Promise.all([...startMany(signin, signinCount - 1), ...startMany(placements, placementsCount - 1)])
    }

    // Sign-in runs in production here (no development mailbox): tests read its codes from its database.
    const latestSigninCode = async (email: string) => {
      const row = await signinDb.selectFrom('outbox').select('body').where('recipient', '=', email).orderBy('seq', 'desc').limit(1).executeTakeFirst()
      const code = row?.body.match(/\b(\d{6})\b/)?.[1]
      if (!code) throw new Error(`No code emailed to ${email}`)
      return code
    }
    codeReaders.set(new URL(signinProxy.url).origin, latestSigninCode)
    closers.push(async () => { codeReaders.delete(new URL(signinProxy.url).origin) })

    return {
      signin,
      placements,
      redis,
      client,
      async addSigninAccount(account) {
        await addAccount(signinDb, { ...account, password: account.password ?? clusterPassword })
      },
      async addPlacementsUser(person) {
        const now = new Date()
        const organisationName = person.organisationName ?? `Test School ${randomBytes(4).toString('hex')}`
        const organisation = await placementsDb.selectFrom('organisations').select('id').where('name', '=', organisationName).executeTakeFirst()
          ?? await placementsDb.insertInto('organisations').values({
            kind: 'school', name: organisationName, urn: String(100000 + Math.floor(Math.random() * 899999)), ukprn: null, provider_code: null, created_at: now
          }).returning('id').executeTakeFirstOrThrow()
        const user = await placementsDb.insertInto('users').values({
          email: person.email, email_normalised: normaliseEmail(person.email), given_name: person.givenName ?? 'Test', family_name: person.familyName ?? 'Person',
          sign_in_sub: null, last_signed_in_at: null, created_at: now
        }).returning('id').executeTakeFirstOrThrow()
        await placementsDb.insertInto('memberships').values({ user_id: user.id, organisation_id: organisation.id, created_at: now }).execute()
        return { userId: user.id, organisationId: organisation.id }
      },
      latestSigninCode,
      output() {
        return [...signin.nodes, ...placements.nodes]
          .map((node) => `--- ${node.service} node ${node.pid} (port ${node.port}) ---\n${node.output()}`).join('\n')
      },
      close
    }
  } catch (error) {
    await close()
    throw error
  }
}

function serviceGroup<Schema>(name: ServiceName, proxy: RoundRobinProxy, postgres: PostgresServer, databaseUrl: string, db: Kysely<Schema>, env: NodeJS.ProcessEnv): ServiceGroup<Schema> {
  const nodes: ServiceNode[] = []
  return {
    name,
    url: proxy.url,
    proxy,
    nodes,
    postgres,
    databaseUrl,
    db,
    env,
    async startNode(options = {}) {
      const node = spawnServiceNode({ service: name, port: await freePort(), env: { ...env, ...options.env } })
      nodes.push(node)
      proxy.targets.push(node.url)
      void node.exited.then(() => { proxy.targets = proxy.targets.filter((target) => target !== node.url) })
      if (options.waitUntilReady !== false) await node.waitUntilReady()
      return node
    },
    stopNode(node, signal = 'SIGTERM') {
      return node.stop(signal)
    }
  }
}

async function stopWithin15Seconds(node: ServiceNode): Promise<void> {
  if (!node.running) return
  const timer = setTimeout(() => node.process.kill('SIGKILL'), 15_000)
  await node.stop('SIGTERM')
  clearTimeout(timer)
}
