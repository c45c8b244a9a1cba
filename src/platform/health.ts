import type { Redis } from 'ioredis'
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import type { Logger } from './logger.ts'

/**
 * Readiness (`GET /readyz`): can this node do its work right now? The database answers
 * and has every migration this code expects, and Redis (when configured) answers. A
 * load balancer asks every second or so on every node, so each check is one round trip,
 * concurrent probes share one run, and no check takes longer than `timeoutMs`.
 */
export type CheckResult = 'ok' | 'unavailable' | 'pending' | 'timed out'

export interface ReadinessCheck {
  name: string
  run(): Promise<Exclude<CheckResult, 'timed out'>>
}

export interface ReadinessReport {
  ready: boolean
  checks: Record<string, CheckResult>
}

export class Readiness {
  readonly #checks: ReadinessCheck[]
  readonly #timeoutMs: number
  readonly #log: Logger | undefined
  #running: Promise<ReadinessReport> | undefined
  #lastReady: boolean | undefined

  constructor(checks: ReadinessCheck[], options: { timeoutMs?: number, log?: Logger } = {}) {
    this.#checks = checks
    this.#timeoutMs = options.timeoutMs ?? 2000
    this.#log = options.log
  }

  report(): Promise<ReadinessReport> {
    this.#running ??= this.#run().finally(() => { this.#running = undefined })
    return this.#running
  }

  async #run(): Promise<ReadinessReport> {
    const results = await Promise.all(this.#checks.map((check) => this.#bounded(check)))
    const checks = Object.fromEntries(this.#checks.map((check, i) => [check.name, results[i]!]))
    const ready = results.every((result) => result === 'ok')
    // Said once when it changes, not on every probe.
    if (ready !== this.#lastReady) {
      if (ready) this.#log?.info({ checks }, 'ready')
      else this.#log?.warn({ checks }, 'not ready')
      this.#lastReady = ready
    }
    return { ready, checks }
  }

  async #bounded(check: ReadinessCheck): Promise<CheckResult> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<CheckResult>((resolve) => { timer = setTimeout(() => resolve('timed out'), this.#timeoutMs) })
    try {
      return await Promise.race([check.run().catch((): CheckResult => 'unavailable'), timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * The database answers, and every migration this code knows has been applied (in
 * production `npm run migrate` runs before or while the nodes start). Once all are
 * applied that stays true, and later probes only ask the database for `select 1`.
 */
export function databaseChecks(db: Kysely<never>, migrations: Record<string, Migration>): ReadinessCheck[] {
  const expected = Object.keys(migrations)
  let migrated = false
  let reachable: Promise<boolean> | undefined
  // Both checks come from one query per probe.
  function probe(): Promise<boolean> {
    reachable ??= (async () => {
      try {
        if (migrated) {
          await sql`select 1`.execute(db)
          return true
        }
        const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db)
        const applied = new Set(rows.map((row) => row.name))
        migrated = expected.every((name) => applied.has(name))
        return true
      } catch (error) {
        // No migration table yet: the database answers, and nothing has been applied.
        if ((error as { code?: unknown }).code === '42P01') return true
        throw error
      }
    })().finally(() => { reachable = undefined })
    return reachable
  }
  return [
    { name: 'database', run: async () => (await probe()) ? 'ok' : 'unavailable' },
    { name: 'migrations', run: async () => (await probe(), migrated ? 'ok' : 'pending') }
  ]
}

export function redisCheck(redis: Redis): ReadinessCheck {
  return { name: 'redis', run: async () => (await redis.ping()) === 'PONG' ? 'ok' : 'unavailable' }
}

/**
 * A node started before `npm run migrate` has run (production applies migrations with
 * that command, not on start) waits here, bound and answering 503, instead of failing
 * every request with a missing table; likewise one started while the database is down.
 */
export async function waitForMigrations(db: Kysely<never>, migrations: Record<string, Migration>, options: { log: Logger, progress?: (step: string) => void, intervalMs?: number }): Promise<void> {
  const check = databaseChecks(db, migrations).find((candidate) => candidate.name === 'migrations')!
  let told: CheckResult | undefined
  for (;;) {
    const result: CheckResult = await check.run().catch(() => 'unavailable')
    if (result === 'ok') return
    if (result !== told) {
      const step = result === 'pending' ? 'waiting for the database migrations: run npm run migrate' : 'waiting for the database to answer'
      options.progress?.(step)
      options.log.warn(step)
      told = result
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000))
  }
}
