import type { Redis } from 'ioredis'
import { sql, type Kysely } from 'kysely'
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider'
import type { Clock } from '../../platform/clock.ts'
import type { SigninDatabase } from '../database/schema.ts'
import { clientMetadataFor } from './clients.ts'

/**
 * oidc-provider's small persistence contract, twice: PostgreSQL (default) and Redis
 * (REDIS_URL). Clients are not short-lived artifacts: they always come from the
 * `clients` table, whichever store holds the rest.
 */
export type AdapterFactory = (name: string) => Adapter

/**
 * What the Session model's adapter adds to oidc-provider's contract: the ids of an
 * account's sessions, so "Your account" can sign them out (ADR 11). Ids may include
 * sessions that have since ended or changed hands: read each before acting on it.
 */
export interface SessionsByAccount {
  sessionIdsOf(accountId: string): Promise<string[]>
}

export function sessionsByAccount(adapter: unknown): SessionsByAccount {
  const candidate = adapter as Partial<SessionsByAccount> | undefined
  if (typeof candidate?.sessionIdsOf !== 'function') throw new Error('The Session adapter cannot find sessions by account')
  return candidate as SessionsByAccount
}

export function adapterFactory(db: Kysely<SigninDatabase>, clock: Clock, redis?: Redis, redisPrefix = 'signin:'): AdapterFactory {
  return (name: string) => {
    if (name === 'Client') return new ClientAdapter(db)
    return redis ? new RedisAdapter(name, redis, redisPrefix + 'oidc:') : new PostgresAdapter(name, db, clock)
  }
}

class ClientAdapter implements Adapter {
  readonly #db: Kysely<SigninDatabase>
  constructor(db: Kysely<SigninDatabase>) {
    this.#db = db
  }
  async find(id: string): Promise<AdapterPayload | undefined> {
    if (id.length > 200) return undefined
    const row = await this.#db.selectFrom('clients').selectAll().where('client_id', '=', id).executeTakeFirst()
    return row ? clientMetadataFor(row) as AdapterPayload : undefined
  }
  async upsert(): Promise<void> { throw new Error('Clients are registered with the clients command') }
  async findByUserCode(): Promise<undefined> { return undefined }
  async findByUid(): Promise<undefined> { return undefined }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

class PostgresAdapter implements Adapter {
  readonly #model: string
  readonly #db: Kysely<SigninDatabase>
  readonly #clock: Clock
  constructor(model: string, db: Kysely<SigninDatabase>, clock: Clock) {
    this.#model = model
    this.#db = db
    this.#clock = clock
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const row = {
      model: this.#model,
      id,
      payload: JSON.stringify(payload) as unknown as Record<string, unknown>,
      grant_id: payload.grantId ?? null,
      user_code: payload.userCode ?? null,
      uid: payload.uid ?? null,
      expires_at: expiresIn ? new Date(this.#clock.now().getTime() + expiresIn * 1000) : null,
      consumed_at: null
    }
    await this.#db.insertInto('oidc_payloads').values(row)
      .onConflict((c) => c.columns(['model', 'id']).doUpdateSet({
        payload: row.payload, grant_id: row.grant_id, user_code: row.user_code, uid: row.uid, expires_at: row.expires_at
      }))
      .execute()
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#findBy('id', id)
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBy('uid', uid)
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBy('user_code', userCode)
  }

  async consume(id: string): Promise<void> {
    const consumed = await this.#db.updateTable('oidc_payloads').set({ consumed_at: this.#clock.now() })
      .where('model', '=', this.#model).where('id', '=', id).where('consumed_at', 'is', null)
      .returning('id').executeTakeFirst()
    if (consumed) return
    const already = await this.#db.selectFrom('oidc_payloads').select('grant_id')
      .where('model', '=', this.#model).where('id', '=', id).executeTakeFirst()
    await refuseSecondUse(this, this.#model, already?.grant_id)
  }

  async destroy(id: string): Promise<void> {
    await this.#db.deleteFrom('oidc_payloads').where('model', '=', this.#model).where('id', '=', id).execute()
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute()
  }

  async sessionIdsOf(accountId: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('oidc_payloads').select('id')
      .where('model', '=', this.#model).where(sql<string>`payload->>'accountId'`, '=', accountId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', this.#clock.now())]))
      .execute()
    return rows.map((row) => row.id)
  }

  async #findBy(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    if (value.length > 200) return undefined
    const row = await this.#db.selectFrom('oidc_payloads').select(['payload', 'consumed_at'])
      .where('model', '=', this.#model).where(column, '=', value)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', this.#clock.now())]))
      .executeTakeFirst()
    if (!row) return undefined
    const payload = row.payload as AdapterPayload
    return row.consumed_at ? { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : payload
  }
}

/** Models whose records are tied to a grant, so revoking the grant can find them. */
const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'])

/**
 * Adds `consumed` (seconds) to a stored payload, keeping its expiry. The payload is the JSON
 * of an object, so the field goes before its closing brace; JSON.parse keeps the last of
 * two fields of one name, as `{ ...payload, consumed }` would.
 */
const markConsumed = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
local payload = cjson.decode(value)
if payload.consumed ~= nil then return {'already', payload.grantId or ''} end
local separator = value == '{}' and '' or ','
redis.call('SET', KEYS[1], string.sub(value, 1, -2) .. separator .. '"consumed":' .. ARGV[1] .. '}', 'KEEPTTL')
return {'now'}
`

/**
 * oidc-provider checks that a code is unused, then marks it used: two token requests with
 * one code at the same moment both pass the check. The adapters mark it atomically (only
 * if unused), and the request that finds it used already is refused as a replay would be,
 * and the grant's tokens stored so far are revoked (RFC 6749 4.1.2: a code used twice is
 * refused, and what it gave revoked). Tokens the first request stores after that stay,
 * as they would if the replay came before the first exchange had finished. A code that is
 * gone when it is marked (oidc-provider found it a moment before: revoked by such a
 * refusal, or expired since) is refused too: it can be used no more than a used one.
 */
async function refuseSecondUse(adapter: Adapter, model: string, grantId: string | null | undefined): Promise<never> {
  if (grantId) await adapter.revokeByGrantId(grantId)
  throw new errors.InvalidGrant(`${model} already consumed`)
}

class RedisAdapter implements Adapter {
  readonly #model: string
  readonly #redis: Redis
  readonly #prefix: string
  constructor(model: string, redis: Redis, prefix: string) {
    this.#model = model
    this.#redis = redis
    this.#prefix = prefix
  }

  #key(id: string): string { return `${this.#prefix}${this.#model}:${id}` }
  #accountKey(accountId: string): string { return `${this.#prefix}account-sessions:${accountId}` }

  async sessionIdsOf(accountId: string): Promise<string[]> {
    const accountKey = this.#accountKey(accountId)
    const ids = await this.#redis.smembers(accountKey)
    const live: string[] = []
    for (const id of ids) {
      const payload = await this.find(id)
      if (payload?.accountId === accountId) live.push(id)
      // Ended or renewed (a new id at each sign-in): forgotten here too.
      else await this.#redis.srem(accountKey, id)
    }
    return live
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const key = this.#key(id)
    const multi = this.#redis.multi()
    if (expiresIn) multi.set(key, JSON.stringify(payload), 'EX', expiresIn)
    else multi.set(key, JSON.stringify(payload))
    if (grantable.has(this.#model) && payload.grantId) {
      const grantKey = `${this.#prefix}grant:${payload.grantId}`
      multi.rpush(grantKey, key)
      // The grant's list lives as long as its longest-lived member: an expiry is set when
      // the list has none (NX) or a shorter one (GT), in the same round trip (Redis 7).
      if (expiresIn) multi.expire(grantKey, expiresIn, 'NX').expire(grantKey, expiresIn, 'GT')
    }
    if (this.#model === 'Session' && typeof payload.accountId === 'string') {
      // Each account's sessions, for signing them out (ADR 11): a set that lives as long as its longest session.
      const accountKey = this.#accountKey(payload.accountId)
      multi.sadd(accountKey, id)
      if (expiresIn) multi.expire(accountKey, expiresIn, 'NX').expire(accountKey, expiresIn, 'GT')
      else multi.persist(accountKey)
    }
    if (payload.userCode) {
      multi.set(`${this.#prefix}userCode:${payload.userCode}`, id, ...(expiresIn ? ['EX', expiresIn] as const : []) as ['EX', number])
    }
    if (payload.uid) {
      multi.set(`${this.#prefix}uid:${payload.uid}`, id, ...(expiresIn ? ['EX', expiresIn] as const : []) as ['EX', number])
    }
    await multi.exec()
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const value = await this.#redis.get(this.#key(id))
    return value ? JSON.parse(value) as AdapterPayload : undefined
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#redis.get(`${this.#prefix}uid:${uid}`)
    return id ? this.find(id) : undefined
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#redis.get(`${this.#prefix}userCode:${userCode}`)
    return id ? this.find(id) : undefined
  }

  async consume(id: string): Promise<void> {
    // One round trip, and atomic: a read then a write could recreate a record that expired
    // between them, without an expiry.
    const answer = await this.#redis.eval(markConsumed, 1, this.#key(id), Math.floor(Date.now() / 1000)) as [string, string?] | null
    if (answer?.[0] !== 'now') await refuseSecondUse(this, this.#model, answer?.[1])
  }

  async destroy(id: string): Promise<void> {
    await this.#redis.del(this.#key(id))
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = `${this.#prefix}grant:${grantId}`
    const keys = await this.#redis.lrange(grantKey, 0, -1)
    await this.#redis.del(...keys, grantKey)
  }
}
