import { Redis } from 'ioredis'
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
  /** Adds one to a counter that starts its life (and its time to live) at the first increment. */
  increment(key: string, ttlSeconds: number): Promise<number>
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

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const now = this.#clock.now()
    const expiresAt = this.#expiry(ttlSeconds)
    const { rows } = await sql<{ value: number }>`
      insert into short_lived (key, value, expires_at) values (${key}, '1'::jsonb, ${expiresAt})
      on conflict (key) do update set
        value = case when short_lived.expires_at <= ${now} then '1'::jsonb
                     else to_jsonb((short_lived.value #>> '{}')::int + 1) end,
        expires_at = case when short_lived.expires_at <= ${now} then excluded.expires_at
                          else short_lived.expires_at end
      returning value`.execute(this.#db)
    return Number(rows[0]?.value)
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

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const fullKey = this.#prefix + key
    const [[, count]] = await this.#redis.multi().incr(fullKey).expire(fullKey, Math.max(1, Math.ceil(ttlSeconds)), 'NX').exec() as [[null, number]]
    return count
  }
}

export function connectRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true })
}
