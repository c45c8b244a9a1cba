import { Router, type NextFunction, type Request, type Response } from 'express'
import { renderFormErrors } from '../../platform/views.ts'
import { field } from '../../platform/validation.ts'
import { acrSatisfies, acrValues, secondFactorsOf, type SecondFactor } from '../accounts/factors.ts'
import { provePasskey, signinRelyingParty } from '../accounts/passkey-actions.ts'
import { authenticationOptions } from '../accounts/passkeys.ts'
import { mayMakeChallenge } from '../accounts/passkey-challenge-limit.ts'
import { recordAudit } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { accountChangeCode } from '../emails.ts'
import { proveSignInCode, sendSignInCode } from '../accounts/code-actions.ts'
import { enterEmailedCode, sendCodeOrShowLimit } from '../journeys/steps/code-step.ts'
import { chooseFactor, proveAppCode, proveRecoveryCode, type Proof, type Prover } from '../journeys/second-factor/checks.ts'
import { passkeyMessages } from '../journeys/passkeys/routes.ts'
import { factorNames } from '../journeys/second-factor/routes.ts'
import { checkAccountPassword } from './password-check.ts'

/**
 * Signing in again before a change in "Your account" (docs/security.md "your account"):
 * a change more than 15 minutes after the session's sign-in asks for the password and
 * then the account's usual second factor (its strongest; the person may choose another),
 * with the very checks, lockouts and audit events of a sign-in (journeys/second-factor/
 * checks.ts; an emailed code: journeys/steps/code-step.ts and accounts/code-actions.ts),
 * then goes back to the change page asked for. What was typed into that page is not kept:
 * the page opens afresh.
 *
 * An account with a passkey is offered it first (with JavaScript), on the first page: a
 * passkey with user verification is a whole sign-in at Sign-in (ADR 12), so here too it
 * needs no password (ADR 17). Without JavaScript, or without the passkey to hand, the
 * password and the other factors remain.
 */
export const recentSignInMinutes = 15

export const base = '/account/sign-in-again'

const views = {
  password: 'your-account/sign-in-again.njk',
  emailCode: 'journeys/second-factor/email-code.njk',
  resend: 'journeys/second-factor/resend-email-code.njk',
  appCode: 'journeys/second-factor/app-code.njk',
  choose: 'journeys/second-factor/choose-factor.njk',
  recoveryCode: 'journeys/second-factor/recovery-code.njk'
}

export const signInAgainMessages = {
  missing: 'Enter your password',
  wrong: 'Your password is not correct'
}

/** The factors signing in again offers: what the account has that these pages know how to check. */
const handled: SecondFactor[] = ['authenticator-app', 'email-code', 'recovery-code']
const factorPaths: Record<string, string> = { 'authenticator-app': '/authenticator-app-code', 'email-code': '/email-code', 'recovery-code': '/recovery-code' }

/**
 * Where to go back to: a same-origin path under /account only, never this page itself,
 * nothing with a host, a scheme, a query, dots or backslashes. Anything else: /account.
 */
export function safeReturnPath(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 100) return '/account'
  const named = /^\/account(\/[a-z][a-z0-9-]{0,40}){0,3}$/
  // The one change page whose path holds an id: removing a passkey (a lower-case UUID).
  const passkeyRemove = /^\/account\/passkeys\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/remove$/
  if (!named.test(raw) && !passkeyRemove.test(raw)) return '/account'
  if (raw === base || raw.startsWith(`${base}/`)) return '/account'
  return raw
}

/**
 * In the web session: how far signing in again has got, for which Sign-in session, and
 * whether only the app or a recovery code will do (`strong`, for changes to the app).
 */
interface Reauth { sessionId: string, returnTo: string, passwordProven: boolean, strong: boolean }
/** In the web session: when this Sign-in session last proved a password and a second factor again, and which. */
interface Renewed { sessionId: string, at: number, factor: SecondFactor }

/** The factors that prove the person holds their passkey, app or its recovery codes, not just their mailbox (ADR 10, 12). */
const strongFactors: SecondFactor[] = ['passkey', 'authenticator-app', 'recovery-code']

const reauthKey = 'account-sign-in-again'
const renewedKey = 'account-signed-in-again'

/**
 * Within 15 minutes of the session's last password and second factor: its sign-in
 * (the provider session's loginTs), or signing in again here in the same session.
 */
export function signedInRecently(context: SigninContext, req: Request): boolean {
  const signedIn = req.signedIn!
  const renewed = req.session.get<Renewed>(renewedKey)
  const times = [signedIn.loginTs ? signedIn.loginTs * 1000 : 0, renewed?.sessionId === signedIn.sessionId ? renewed.at : 0]
  return context.clock.now().getTime() - Math.max(...times) <= recentSignInMinutes * 60_000
}

/**
 * Within 15 minutes, with the authenticator app or a recovery code: the sign-in reached the
 * app level, or signing in again here used one of them. A password and a mailbox must never
 * be enough to change or remove someone's app or get new recovery codes (ADR 10).
 */
export function signedInRecentlyWithApp(context: SigninContext, req: Request): boolean {
  const signedIn = req.signedIn!
  const now = context.clock.now().getTime()
  const window = recentSignInMinutes * 60_000
  if (signedInAgainStrongly(context, req)) return true
  // The app level or above (a passkey), or `mfa` in the amr: the sign-in used a passkey, the app or a recovery code (ADR 10, 12), not the mailbox.
  const strongSignIn = acrSatisfies(signedIn.acr, [acrValues.app]) || signedIn.amr.includes('mfa')
  return strongSignIn && signedIn.loginTs !== undefined && now - signedIn.loginTs * 1000 <= window
}

/** Signed in again here, in this Sign-in session, within 15 minutes, with a passkey, the app or a recovery code. */
export function signedInAgainStrongly(context: SigninContext, req: Request): boolean {
  const renewed = req.session.get<Renewed>(renewedKey)
  return renewed?.sessionId === req.signedIn!.sessionId && strongFactors.includes(renewed.factor) &&
    context.clock.now().getTime() - renewed.at <= recentSignInMinutes * 60_000
}

function returnQuery(req: Request, strong: boolean): string {
  const path = safeReturnPath((req.baseUrl + req.path).replace(/\/$/, ''))
  return `?return=${encodeURIComponent(path)}${strong ? '&with=app' : ''}`
}

/** A change page reached too long after signing in: sign in again first, then come back to it. */
export function requireRecentSignIn(context: SigninContext) {
  return function requireRecentSignInMiddleware(req: Request, res: Response, next: NextFunction) {
    if (signedInRecently(context, req)) return next()
    res.redirect(303, base + returnQuery(req, false))
  }
}

/**
 * For changes to the authenticator app and recovery codes of an account that has an app:
 * a recent sign-in with the app or a recovery code. An account without an app needs only a
 * recent sign-in (it has nothing stronger to prove).
 */
export function requireRecentSignInWithApp(context: SigninContext) {
  return async function requireRecentSignInWithAppMiddleware(req: Request, res: Response, next: NextFunction) {
    const hasApp = (await secondFactorsOf(context.db, req.signedIn!.account.id)).includes('authenticator-app')
    if (hasApp ? signedInRecentlyWithApp(context, req) : signedInRecently(context, req)) return next()
    res.redirect(303, base + returnQuery(req, hasApp))
  }
}

export function signInAgainRoutes(context: SigninContext): Router {
  const router = Router()
  router.use((_req, res, next) => {
    res.locals.base = base
    next()
  })

  const prover = (req: Request): Prover => ({ accountId: req.signedIn!.account.id, email: req.signedIn!.account.email, ip: req.ip, purpose: 're-authenticate' })
  const reauthOf = (req: Request): Reauth | undefined => {
    const reauth = req.session.get<Reauth>(reauthKey)
    return reauth?.sessionId === req.signedIn!.sessionId ? reauth : undefined
  }
  const passwordProven = (req: Request, res: Response, next: NextFunction) => {
    if (reauthOf(req)?.passwordProven) return next()
    res.redirect(303, base)
  }
  const choices = async (req: Request) => {
    const strong = reauthOf(req)?.strong === true
    return (await secondFactorsOf(context.db, req.signedIn!.account.id)).filter((factor) => handled.includes(factor) && (!strong || strongFactors.includes(factor)))
  }
  const otherWays = async (req: Request) => (await choices(req)).length > 1
  const sendCode = (req: Request) => {
    const who = prover(req)
    return sendSignInCode(context, who, (code, minutes) => accountChangeCode(who.email, code, minutes, { signinName: context.config.serviceName }))
  }

  /** The first page: a passkey (when the account has one) or the password. */
  const firstPage = async (req: Request, strong: boolean) => ({
    minutes: recentSignInMinutes, strong, passkey: (await secondFactorsOf(context.db, req.signedIn!.account.id)).includes('passkey')
  })

  router.get('/', async (req, res) => {
    const returnTo = safeReturnPath(req.query.return)
    const strong = req.query.with === 'app'
    req.session.set(reauthKey, { sessionId: req.signedIn!.sessionId, returnTo, passwordProven: false, strong } satisfies Reauth)
    res.render(views.password, await firstPage(req, strong))
  })

  /** Only after the first page was opened (it keeps where to go back to), in this Sign-in session. */
  const started = (req: Request, res: Response, next: NextFunction) => {
    if (reauthOf(req)) return next()
    res.redirect(303, base)
  }
  /** A challenge made here may be answered only for this account, in this Sign-in session. */
  const passkeyBinding = (req: Request) => `sign-in-again:${req.signedIn!.account.id}:${req.signedIn!.sessionId}`

  router.get('/passkey/options', started, async (req, res) => {
    if (!await mayMakeChallenge(context.store, passkeyBinding(req), req.ip, context.clock.now())) return res.status(429).json({ error: 'too-many-requests' })
    const accountId = req.signedIn!.account.id
    res.json(await authenticationOptions(context.db, context.store, signinRelyingParty(context), passkeyBinding(req), accountId))
  })

  router.post('/passkey', started, async (req, res) => {
    const checked = await provePasskey(context, prover(req), passkeyBinding(req), field(req, 'response'))
    if (checked.result !== 'correct') {
      return renderFormErrors(res, views.password, { passkey: passkeyMessages[checked.reason] }, await firstPage(req, reauthOf(req)!.strong))
    }
    await proven(req, res, 'passkey')
  })

  router.post('/', async (req, res) => {
    const { account, sessionId } = req.signedIn!
    const returnTo = reauthOf(req)?.returnTo ?? '/account'
    const strong = reauthOf(req)?.strong === true
    const typed = field(req, 'password')
    const shown = await firstPage(req, strong)
    if (typed === '') return renderFormErrors(res, views.password, { password: signInAgainMessages.missing }, shown)
    const checked = await checkAccountPassword(context, account, req.ip, typed, { locked: 're-authentication-locked', failed: 're-authentication-failed' }, signInAgainMessages.wrong)
    if (!checked.ok) return renderFormErrors(res, views.password, { password: checked.error }, shown, checked.status)
    req.session.set(reauthKey, { sessionId, returnTo, passwordProven: true, strong } satisfies Reauth)
    const first = (await choices(req))[0] ?? 'email-code'
    if (first === 'email-code' && !(await sendCodeOrShowLimit(res, () => sendCode(req), views.password, 'password', shown))) return
    res.redirect(303, base + factorPaths[first])
  })

  /** The factor is proven: this session counts as freshly signed in, and the person goes back. */
  async function proven(req: Request, res: Response, factor: SecondFactor) {
    const { account, sessionId } = req.signedIn!
    const returnTo = reauthOf(req)!.returnTo
    const now = context.clock.now()
    req.session.unset(reauthKey)
    req.session.set(renewedKey, { sessionId, at: now.getTime(), factor } satisfies Renewed)
    await recordAudit(context.db, { event: 're-authenticated', outcome: 'success', accountId: account.id, email: account.email, ip: req.ip, details: { factor } }, now)
    res.redirect(303, safeReturnPath(returnTo))
  }

  async function answer(req: Request, res: Response, view: string, factor: SecondFactor, proof: Proof, shown: Record<string, unknown>) {
    if (!proof.ok) return renderFormErrors(res, view, { code: proof.error }, shown, proof.status)
    await proven(req, res, factor)
  }

  router.get('/email-code', passwordProven, async (req, res) => {
    res.render(views.emailCode, { email: req.signedIn!.account.email, otherWays: await otherWays(req) })
  })
  router.post('/email-code', passwordProven, async (req, res) => {
    const shown = { email: req.signedIn!.account.email, otherWays: await otherWays(req) }
    if (await enterEmailedCode(req, res, views.emailCode, shown, (code) => proveSignInCode(context, prover(req), code))) await proven(req, res, 'email-code')
  })
  router.get('/email-code/resend', passwordProven, (req, res) => {
    res.render(views.resend, { email: req.signedIn!.account.email })
  })
  router.post('/email-code/resend', passwordProven, async (req, res) => {
    if (!(await sendCodeOrShowLimit(res, () => sendCode(req), views.resend, 'send', { email: req.signedIn!.account.email }))) return
    res.redirect(303, `${base}/email-code`)
  })

  router.get('/authenticator-app-code', passwordProven, async (req, res) => {
    res.render(views.appCode, { otherWays: await otherWays(req) })
  })
  router.post('/authenticator-app-code', passwordProven, async (req, res) => {
    const shown = { otherWays: await otherWays(req) }
    await answer(req, res, views.appCode, 'authenticator-app', await proveAppCode(context, prover(req), field(req, 'code')), shown)
  })

  router.get('/recovery-code', passwordProven, (_req, res) => {
    res.render(views.recoveryCode)
  })
  router.post('/recovery-code', passwordProven, async (req, res) => {
    const typed = field(req, 'code')
    await answer(req, res, views.recoveryCode, 'recovery-code', await proveRecoveryCode(context, prover(req), typed), { values: { code: typed.slice(0, 50) } })
  })

  const choiceItems = (factors: SecondFactor[]) => ({ items: factors.map((factor) => ({ value: factor, text: factorNames[factor].label, hint: { text: factorNames[factor].hint } })) })
  router.get('/choose-factor', passwordProven, async (req, res) => {
    res.render(views.choose, choiceItems(await choices(req)))
  })
  router.post('/choose-factor', passwordProven, async (req, res) => {
    const factors = await choices(req)
    const chosen = await chooseFactor(req, res, views.choose, factors, choiceItems(factors), () => sendCode(req))
    if (chosen) res.redirect(303, base + factorPaths[chosen])
  })

  return router
}
