import { createHash, randomBytes } from 'node:crypto'
import { parseCookie } from 'cookie'
import type { NextFunction, Request, Response } from 'express'
import { systemClock, type Clock } from './clock.ts'
import { renderServiceUnavailable } from './security.ts'
import type { ShortLivedStore } from './short-lived-store.ts'

/**
 * Server-side web sessions (docs/security.md, "sessions"): an opaque random id in a cookie,
 * the data in the short-lived store under a hash of that id (the store never holds a
 * usable id), an idle timeout and an absolute lifetime enforced on every request, and
 * a new id whenever someone signs in.
 */
export interface SessionOptions {
  cookieName: string
  /** `__Host-` prefix and Secure flag: on whenever the public URL is https. */
  secure: boolean
  idleTimeoutSeconds: number
  absoluteTimeoutSeconds: number
  store: ShortLivedStore
  clock?: Clock
  /** Told when a request arrives with a session that has run out (to audit a timeout). */
  onEnded?: (end: SessionEnd, data: Record<string, unknown>) => Promise<void>
  /** Told when the session could not be saved (the store is down); the person gets a 503 page. */
  onSaveFailed?: (error: unknown) => void
  /**
   * A request that changes nothing but the last-seen time is not written back if the stored
   * time is younger than this (default a twentieth of the idle timeout, at most 60 s): most page views then cost one read and no write.
   * The idle timeout counts from the stored time plus this interval, so a session still ends
   * between `idleTimeoutSeconds` and `idleTimeoutSeconds + touchIntervalSeconds` after the
   * last request: with the defaults, between 20 and 21 minutes.
   */
  touchIntervalSeconds?: number
}

interface StoredSession {
  data: Record<string, unknown>
  createdAt: number
  lastSeenAt: number
}

export type SessionEnd = 'idle' | 'absolute'

export class Session {
  data: Record<string, unknown>
  id: string | undefined
  createdAt: number
  /** Set when the request came with a session that had run out. */
  readonly ended: SessionEnd | undefined
  #destroyed = false
  #previousId: string | undefined

  constructor(id: string | undefined, stored: StoredSession | undefined, now: number, ended?: SessionEnd) {
    this.id = id
    this.data = stored?.data ?? {}
    this.createdAt = stored?.createdAt ?? now
    this.ended = ended
  }

  get<T>(key: string): T | undefined {
    return this.data[key] as T | undefined
  }

  set(key: string, value: unknown): void {
    this.data[key] = value
  }

  unset(key: string): void {
    delete this.data[key]
  }

  /**
   * A new id (no fixation) and a fresh lifetime, keeping the data given. The id is known at
   * once (so a sign-in can file it for back-channel logout); it is stored, and its cookie
   * set, when the response goes, unless the session is left empty.
   */
  regenerate(keep: Record<string, unknown> = {}): void {
    this.#previousId ??= this.id
    this.id = newSessionId()
    this.data = { ...keep }
    this.createdAt = Number.NaN
  }

  destroy(): void {
    this.#previousId ??= this.id
    this.#destroyed = true
    this.id = undefined
    this.data = {}
  }

  get destroyed(): boolean { return this.#destroyed }
  get previousId(): string | undefined { return this.#previousId }
}

declare module 'express-serve-static-core' {
  interface Request {
    session: Session
  }
}

export function sessionCookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base
}

/**
 * The stored record outlives the session by this long, so the next request is told it
 * ended (`Session.ended`: "You have been signed out") rather than look like a first
 * visit. The timestamps enforce the timeouts; the store's expiry only tidies up.
 */
const endNoticeSeconds = 3600

function newSessionId(): string {
  return randomBytes(32).toString('base64url')
}

/** Where a session is kept in the short-lived store: under a hash of its id, never the id. */
export function sessionStoreKey(id: string): string {
  return storeKey(id)
}

function storeKey(id: string): string {
  return 'session:' + createHash('sha256').update(id).digest('base64url')
}

/**
 * A cookie's value from the request, by the `cookie` package's parser (the first of that
 * name wins, values are URL-decoded); undefined when absent or not decodable.
 */
export function cookieFrom(req: Pick<Request, 'headers'>, name: string): string | undefined {
  const header = req.headers.cookie
  if (!header) return undefined
  return parseCookie(header)[name]
}

/** The session id from its cookie: only ever one of ours in shape (random base64url). */
export function readCookie(req: Request, name: string): string | undefined {
  const value = cookieFrom(req, name)
  return value !== undefined && /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined
}

export function sessions(options: SessionOptions) {
  const clock = options.clock ?? systemClock
  const touchMs = (options.touchIntervalSeconds ?? Math.min(60, Math.floor(options.idleTimeoutSeconds / 20))) * 1000
  const idleMs = options.idleTimeoutSeconds * 1000 + touchMs
  const name = sessionCookieName(options.cookieName, options.secure)
  const cookieOptions = { httpOnly: true, secure: options.secure, sameSite: 'lax' as const, path: '/' }

  return async function sessionMiddleware(req: Request, res: Response, next: NextFunction) {
    const now = clock.now().getTime()
    const id = readCookie(req, name)
    let stored: StoredSession | undefined
    let ended: SessionEnd | undefined
    if (id) {
      stored = await options.store.get<StoredSession>(storeKey(id))
      if (stored && now - stored.lastSeenAt >= idleMs) ended = 'idle'
      else if (stored && now - stored.createdAt >= options.absoluteTimeoutSeconds * 1000) ended = 'absolute'
      if (ended && stored) {
        await options.store.delete(storeKey(id))
        await options.onEnded?.(ended, stored.data)
        stored = undefined
      }
    }
    const session = new Session(stored ? id : undefined, stored, now, ended)
    req.session = session
    const loaded = stored ? JSON.stringify(stored.data) : undefined

    // Save before the response leaves, so the next request always sees this one's changes.
    const end = res.end.bind(res) as (...args: unknown[]) => Response
    let saving = false
    res.end = function (this: Response, ...args: unknown[]) {
      if (saving) return end(...args)
      saving = true
      save().then(() => end(...args), (error: unknown) => {
        options.onSaveFailed?.(error)
        // A page that went out without its session would lie (a form whose token was never
        // kept, a sign-in that did not stick): say plainly that the service is unavailable.
        if (res.headersSent) return res.destroy(error instanceof Error ? error : new Error(String(error)))
        for (const header of ['set-cookie', 'location', 'content-type', 'content-length', 'etag', 'last-modified']) res.removeHeader(header)
        renderServiceUnavailable(res)
      })
      return this
    } as Response['end']

    async function save(): Promise<void> {
      // Forgetting the old id and writing the record go out together: on Redis, whose
      // client pipelines the commands of one tick, that is one round trip instead of two.
      const forgetting = session.previousId ? options.store.delete(storeKey(session.previousId)) : undefined
      await Promise.all([forgetting, writeRecord()])
    }

    async function writeRecord(): Promise<void> {
      const fresh = session.id === undefined || session.id !== id
      if (session.destroyed || (fresh && Object.keys(session.data).length === 0)) {
        if (id && !res.headersSent) res.clearCookie(name, cookieOptions)
        return
      }
      session.id ??= newSessionId()
      if (session.id !== id) {
        if (Number.isNaN(session.createdAt)) session.createdAt = now
        if (!res.headersSent) res.cookie(name, session.id, cookieOptions)
      }
      const unchanged = stored !== undefined && session.id === id && JSON.stringify(session.data) === loaded
      if (unchanged && now - stored!.lastSeenAt < touchMs) return
      const lifetimeLeft = options.absoluteTimeoutSeconds * 1000 - (now - session.createdAt)
      const ttl = Math.min(Math.ceil(idleMs / 1000), Math.ceil(lifetimeLeft / 1000))
      const record: StoredSession = { data: session.data, createdAt: session.createdAt, lastSeenAt: now }
      await options.store.set(storeKey(session.id), record, Math.max(1, ttl) + endNoticeSeconds)
    }

    next()
  }
}
