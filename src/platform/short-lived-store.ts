import { Redis, type Result } from 'ioredis'
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { systemClock, type Clock } from './clock.ts'

/**
 * Short-lived state (web sessions, rate-limit counters): PostgreSQL by default, Redis
 * when REDIS_URL is set so that web nodes keep nothing in memory.
 */
export interface ShortLivedStore {
  get<T>(key: string): Promise<T | undefined>
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>
  delete(key: string): Promise<void>
  /**
   * Reads and deletes a value in one atomic step (PostgreSQL `DELETE … RETURNING`, Redis
   * `GETDEL`): of any number of requests taking the same key at once, exactly one gets it.
   * For things usable once, such as a passkey challenge.
   */
  take<T>(key: string): Promise<T | undefined>
  /**
   * Counts one attempt against a limit, atomically, before the attempt is made: the
   * count and the verdict come from one statement (PostgreSQL) or one script (Redis), so
   * any number of requests arriving together, on any number of nodes, get at most
   * `limit` allowances per window.
   */
  reserveAttempt(key: string, rule: AttemptRule, now: Date): Promise<AttemptReservation>
  /** Gives back one reservation (an attempt that turned out not to count, such as a success). */
  releaseAttempt(key: string, rule: AttemptRule, now: Date): Promise<void>
}

/**
 * A limit of `limit` attempts in a window that starts at the first one. The attempt that
 * reaches the limit locks the key: for `lockSeconds` from then, or else until the window
 * ends. Once the lock (or the window) is over, counting starts again from nothing.
 */
export interface AttemptRule {
  limit: number
  windowSeconds: number
  lockSeconds?: number
}

export interface AttemptReservation {
  /** False once the limit is used up: the attempt must not be made. */
  allowed: boolean
  /** Attempts counted in this window, this one included (refused ones too). */
  count: number
  lockedUntil: Date | undefined
}

/** The state a key starts in at its first attempt, or again after its window or lock is over. */
function freshAttempts(rule: AttemptRule, nowMs: number) {
  const windowEndsAt = nowMs + rule.windowSeconds * 1000
  const lockEnd = rule.lockSeconds === undefined ? windowEndsAt : nowMs + rule.lockSeconds * 1000
  return { windowEndsAt, lockEnd, value: { count: 1, windowEndsAt, lockedUntil: rule.limit <= 1 ? lockEnd : null } }
}

function reservation(count: number, lockedUntil: number | null | undefined, rule: AttemptRule): AttemptReservation {
  return { allowed: count <= rule.limit, count, lockedUntil: lockedUntil ? new Date(lockedUntil) : undefined }
}

export interface ShortLivedTable {
  short_lived: { key: string, value: unknown, expires_at: Date }
}

export const shortLivedMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`create table short_lived (
      key text primary key,
      value jsonb not null,
      expires_at timestamptz not null
    )`.execute(db)
    await sql`create index short_lived_expires_at on short_lived (expires_at)`.execute(db)
  }
}

export class PostgresShortLivedStore implements ShortLivedStore {
  readonly #db: Kysely<ShortLivedTable>
  readonly #clock: Clock
  constructor(db: Kysely<ShortLivedTable> | Kysely<never>, clock: Clock = systemClock) {
    this.#db = db as unknown as Kysely<ShortLivedTable>
    this.#clock = clock
  }

  async get<T>(key: string): Promise<T | undefined> {
    const row = await this.#db.selectFrom('short_lived').select('value')
      .where('key', '=', key).where('expires_at', '>', this.#clock.now()).executeTakeFirst()
    return row?.value as T | undefined
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    const expiresAt = this.#expiry(ttlSeconds)
    const json = JSON.stringify(value)
    await this.#db.insertInto('short_lived').values({ key, value: json, expires_at: expiresAt })
      .onConflict((c) => c.column('key').doUpdateSet({ value: json, expires_at: expiresAt }))
      .execute()
  }

  async delete(key: string): Promise<void> {
    await this.#db.deleteFrom('short_lived').where('key', '=', key).execute()
  }

  async take<T>(key: string): Promise<T | undefined> {
    const row = await this.#db.deleteFrom('short_lived').where('key', '=', key)
      .returning(['value', 'expires_at']).executeTakeFirst()
    return row && row.expires_at > this.#clock.now() ? row.value as T : undefined
  }

  async reserveAttempt(key: string, rule: AttemptRule, now: Date): Promise<AttemptReservation> {
    const nowMs = now.getTime()
    const fresh = freshAttempts(rule, nowMs)
    const lockEnd = rule.lockSeconds === undefined ? null : fresh.lockEnd
    const kept = new Date(Math.max(fresh.windowEndsAt, fresh.lockEnd))
    // One statement: concurrent upserts of one key queue on its row, so each sees the
    // count the one before it left. The fields are read from the stored JSON:
    const count = sql`(short_lived.value->>'count')::int`
    const windowEndsAt = sql`(short_lived.value->>'windowEndsAt')::bigint`
    const lockedUntil = sql`(short_lived.value->>'lockedUntil')::bigint`
    const over = sql`(short_lived.expires_at <= ${now} or ${count} is null or ${windowEndsAt} <= ${nowMs}::bigint or coalesce(${lockedUntil} <= ${nowMs}::bigint, false))`
    const { rows } = await sql<{ value: { count: number, lockedUntil: number | null } }>`
      insert into short_lived (key, value, expires_at) values (${key}, ${JSON.stringify(fresh.value)}::jsonb, ${kept})
      on conflict (key) do update set
        value = case when ${over} then excluded.value else jsonb_build_object(
          'count', ${count} + 1,
          'windowEndsAt', ${windowEndsAt},
          'lockedUntil', coalesce(${lockedUntil}, case when ${count} + 1 >= ${rule.limit}::int then coalesce(${lockEnd}::bigint, ${windowEndsAt}) end)
        ) end,
        expires_at = case when ${over} then excluded.expires_at else greatest(short_lived.expires_at, excluded.expires_at) end
      returning value`.execute(this.#db)
    const value = rows[0]!.value
    return reservation(Number(value.count), value.lockedUntil, rule)
  }

  async releaseAttempt(key: string, rule: AttemptRule, now: Date): Promise<void> {
    const count = sql`(value->>'count')::int`
    await sql`update short_lived set value = jsonb_build_object(
        'count', greatest(${count} - 1, 0),
        'windowEndsAt', value->'windowEndsAt',
        'lockedUntil', case when ${count} - 1 >= ${rule.limit}::int then value->'lockedUntil' end)
      where key = ${key} and expires_at > ${now} and ${count} > 0`.execute(this.#db)
  }

  /** Removes expired rows; run now and then, so the table does not grow without end. */
  async sweep(): Promise<number> {
    const result = await this.#db.deleteFrom('short_lived').where('expires_at', '<=', this.#clock.now()).executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  #expiry(ttlSeconds: number): Date {
    return new Date(this.#clock.now().getTime() + ttlSeconds * 1000)
  }
}

export class RedisShortLivedStore implements ShortLivedStore {
  readonly #redis: Redis
  readonly #prefix: string
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
  }

  async get<T>(key: string): Promise<T | undefined> {
    const value = await this.#redis.get(this.#prefix + key)
    return value === null ? undefined : JSON.parse(value) as T
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.#redis.set(this.#prefix + key, JSON.stringify(value), 'EX', Math.max(1, Math.ceil(ttlSeconds)))
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key)
  }

  async take<T>(key: string): Promise<T | undefined> {
    const value = await this.#redis.getdel(this.#prefix + key)
    return value === null ? undefined : JSON.parse(value) as T
  }

  async reserveAttempt(key: string, rule: AttemptRule, now: Date): Promise<AttemptReservation> {
    const fresh = freshAttempts(rule, now.getTime())
    const [count, lockedUntil] = await this.#redis.reserveAttempt(
      this.#prefix + key, now.getTime(), rule.limit, rule.windowSeconds * 1000, rule.lockSeconds === undefined ? -1 : rule.lockSeconds * 1000,
      Math.max(fresh.windowEndsAt, fresh.lockEnd) - now.getTime())
    return reservation(count, lockedUntil > 0 ? lockedUntil : null, rule)
  }

  async releaseAttempt(key: string, rule: AttemptRule, now: Date): Promise<void> {
    await this.#redis.releaseAttempt(this.#prefix + key, now.getTime(), rule.limit)
  }
}

/**
 * The same rule as PostgresShortLivedStore.reserveAttempt, as one Lua script (Redis runs
 * each script alone). Times come from the caller's clock, so tests can move time; the
 * key's own expiry only tidies up.
 */
const reserveAttemptScript = `
local now, limit, window, lock, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'count', 'windowEndsAt', 'lockedUntil')
local count, windowEndsAt, lockedUntil = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
if count == nil or windowEndsAt == nil or windowEndsAt <= now or (lockedUntil ~= nil and lockedUntil <= now) then
  count, windowEndsAt, lockedUntil = 0, now + window, nil
end
count = count + 1
if lockedUntil == nil and count >= limit then
  if lock >= 0 then lockedUntil = now + lock else lockedUntil = windowEndsAt end
end
redis.call('HSET', KEYS[1], 'count', count, 'windowEndsAt', string.format('%d', windowEndsAt))
if lockedUntil == nil then redis.call('HDEL', KEYS[1], 'lockedUntil')
else redis.call('HSET', KEYS[1], 'lockedUntil', string.format('%d', lockedUntil)) end
if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
return { count, lockedUntil or -1 }`

const releaseAttemptScript = `
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'count', 'windowEndsAt')
local count, windowEndsAt = tonumber(state[1]), tonumber(state[2])
if count == nil or count <= 0 or windowEndsAt <= now then return 0 end
redis.call('HSET', KEYS[1], 'count', count - 1)
if count - 1 < limit then redis.call('HDEL', KEYS[1], 'lockedUntil') end
return 1`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    reserveAttempt(key: string, now: number, limit: number, windowMs: number, lockMs: number, keepMs: number): Result<[number, number], Context>
    releaseAttempt(key: string, now: number, limit: number): Result<number, Context>
  }
}

export interface RedisSettings {
  /** A command unanswered after this long fails (and the request gets a 503). */
  commandTimeoutMs?: number
  /** Told when the connection is lost and when it is back (it reconnects by itself, forever). */
  onStatus?: (status: 'connected' | 'disconnected', error?: Error) => void
}

/**
 * Fails fast while Redis is unreachable: commands are not queued for later (ioredis'
 * offline queue would hold each request for seconds) and every command has a timeout.
 * Only until the first connection are commands queued (still with the timeout), so a
 * command sent a moment after start-up waits for the connection that is being made.
 */
export function connectRedis(url: string, settings: RedisSettings = {}): Redis {
  const redis = new Redis(url, {
    enableAutoPipelining: true,
    enableOfflineQueue: true,
    commandTimeout: settings.commandTimeoutMs ?? 2000,
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000)
  })
  redis.defineCommand('reserveAttempt', { numberOfKeys: 1, lua: reserveAttemptScript })
  redis.defineCommand('releaseAttempt', { numberOfKeys: 1, lua: releaseAttemptScript })
  let connected = false
  let lastError: Error | undefined
  redis.on('ready', () => {
    redis.options.enableOfflineQueue = false
    connected = true
    settings.onStatus?.('connected')
  })
  // Without a listener ioredis prints every failed reconnection attempt to the console.
  redis.on('error', (error: Error) => { lastError = error })
  redis.on('close', () => {
    if (!connected) return
    connected = false
    settings.onStatus?.('disconnected', lastError)
  })
  return redis
}

/** Resolves when the connection is ready, or after `timeoutMs` (the node then starts anyway and reports itself not ready). */
export async function redisReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => { redis.off('ready', onReady); resolve(false) }, timeoutMs)
    function onReady() {
      clearTimeout(timer)
      resolve(true)
    }
    redis.once('ready', onReady)
  })
}
