import type { NextFunction, Request, Response } from 'express'
import { findAccountById, type Account } from '../accounts/accounts.ts'
import type { SigninContext } from '../context.ts'
import { isProviderPath } from '../provider/provider.ts'

/**
 * Who is signed in at Sign-in itself: the provider's session (its cookie, its store),
 * read from an Express request through a Koa context the provider builds for it.
 * Nothing is saved: reading a session never creates or extends one.
 */
export interface SignedIn {
  account: Account
  /** The provider session's id (its jti), to tell this session from the account's others. */
  sessionId: string
  /** When the person last proved a password and a second factor in this session (seconds). */
  loginTs: number | undefined
  /** The level that sign-in reached (ADR 10, 12): the app level means an authenticator app was used; phishing-resistant, a passkey. */
  acr: string | undefined
  /** What that sign-in proved (RFC 8176): `mfa` when the second factor was an app or a recovery code. */
  amr: string[]
  /** The services this session signed in to, with the sid each was given. */
  authorizations: Record<string, { sid?: string, grantId?: string }>
}

export async function signedIn(context: SigninContext, req: Request, res: Response): Promise<SignedIn | undefined> {
  const provider = context.provider
  const session = await provider.Session.get(provider.createContext(req, res))
  const accountId = session.accountId
  if (!accountId) return undefined
  const account = await findAccountById(context.db, accountId)
  if (!account) return undefined
  return {
    account,
    sessionId: session.jti,
    loginTs: session.loginTs,
    acr: (session as { acr?: string }).acr,
    amr: (session as { amr?: string[] }).amr ?? [],
    authorizations: (session.authorizations ?? {}) as SignedIn['authorizations']
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `readSignedIn` on Sign-in's own pages: undefined when nobody is signed in here. */
    signedIn?: SignedIn | undefined
    /** Why the session could not be read (a store outage): pages that need it fail with it. */
    signedInError?: unknown
  }
}

/**
 * On Sign-in's own pages (not the provider's endpoints, not assets): who is signed in,
 * and the header's "Your account" link for them. A store that cannot be read loses only
 * the link: the page itself still answers.
 */
export function readSignedIn(context: SigninContext) {
  return async function readSignedInMiddleware(req: Request, res: Response, next: NextFunction) {
    if (isProviderPath(req.path) || req.path.startsWith('/assets/')) return next()
    try {
      req.signedIn = await signedIn(context, req, res)
    } catch (error) {
      context.log.warn({ err: error, path: req.path }, 'signed-in session not read')
      req.signedIn = undefined
      req.signedInError = error
    }
    if (req.signedIn) {
      res.locals.navigation = [{ text: 'Your account', href: '/account', active: req.path === '/account' || req.path.startsWith('/account/') }]
      res.locals.signedInAccount = true
    }
    next()
  }
}
