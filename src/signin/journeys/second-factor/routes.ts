import { Router, type Request, type Response } from 'express'
import { findAccountById } from '../../accounts/accounts.ts'
import { renderFormErrors } from '../../../platform/views.ts'
import { addAuthenticatorApp } from '../../accounts/actions.ts'
import { appSecretOf, beginAppSetUp, checkAppCode, groupedSecret, setUpDetails } from '../../accounts/authenticator-app.ts'
import { proveSignInCode, sendSignInCode as sendCode } from '../../accounts/code-actions.ts'
import { acrSatisfies, acrValues, authenticationResult, factorsToOffer, secondFactorsOf, targetAcr, type ProvenMethod, type SecondFactor } from '../../accounts/factors.ts'
import type { SigninContext } from '../../context.ts'
import { signInCode } from '../../emails.ts'
import { codeInputProblem, enterEmailedCode, sendCodeOrShowLimit } from '../steps/code-step.ts'
import { appMessages, chooseFactor, proveAppCode, proveRecoveryCode, type Prover } from './checks.ts'
import { field } from '../../../platform/validation.ts'
import { emailContext, finishSignIn, originOf, renewSession, requireStep, saveJourney, type Journey } from '../journey.ts'

/**
 * The second factor (ADR 10), after a correct password:
 *   email-code (⇄ email-code/resend), or one of the account's other factors (choose-factor).
 * Every step is under /interaction/<uid>/, so the service's request survives it.
 */
const views = {
  emailCode: 'journeys/second-factor/email-code.njk',
  resend: 'journeys/second-factor/resend-email-code.njk',
  appCode: 'journeys/second-factor/app-code.njk',
  choose: 'journeys/second-factor/choose-factor.njk',
  setUpApp: 'journeys/second-factor/set-up-app.njk',
  recoveryCodes: 'journeys/second-factor/recovery-codes.njk',
  recoveryCode: 'journeys/second-factor/recovery-code.njk',
  recoveryUsed: 'journeys/second-factor/recovery-code-used.njk'
}

// The checks and their messages are shared with "Your account" (signing in again before a change).
export { appMessages, recoveryMessages } from './checks.ts'

export const factorNames: Record<SecondFactor, { label: string, hint: string }> = {
  'passkey': { label: 'Use a passkey', hint: 'Use the passkey on your phone, computer or security key' },
  'authenticator-app': { label: 'Use your authenticator app', hint: 'Enter the code your app shows' },
  'email-code': { label: 'Get a code by email', hint: 'We will send a code to your email address' },
  'recovery-code': { label: 'Use a recovery code', hint: 'One of the codes you saved when you set up a passkey or an authenticator app' }
}

const passwordProven = (j: Journey) => j.signingIn?.proven.includes('password') === true

export const secondFactorPaths: Record<SecondFactor, string> = {
  'passkey': '/passkey',
  'authenticator-app': '/authenticator-app-code',
  'email-code': '/email-code',
  'recovery-code': '/recovery-code'
}

/** The level the service asked for with `acr_values` (undefined when it asked for none Sign-in knows). */
export function requestedAcr(req: Request) {
  const values = req.signin.interaction.params.acr_values
  return targetAcr(typeof values === 'string' ? values.split(' ') : [])
}

/** Who is proving a factor in this sign-in, for the shared checks. */
function prover(req: Request): Prover {
  const signingIn = req.signin.journey.signingIn!
  return { accountId: signingIn.accountId, email: signingIn.email, ip: req.ip, clientId: req.signin.client.clientId }
}

/** Emails a sign-in code to the account's address (counted like every other code). */
function sendSignInCode(context: SigninContext, req: Request) {
  const who = prover(req)
  return sendCode(context, who, (code, minutes) => signInCode(who.email, code, minutes, emailContext(context, req)))
}

/**
 * After a step of a sign-in (a password, a second factor, a new account): finishes it if
 * what was proven meets what the service asked for, or else asks for what is missing,
 * strongest factor first. Never refuses silently.
 */
export async function continueSignIn(context: SigninContext, req: Request, res: Response, accountId: string, email: string, proven: ProvenMethod[]): Promise<void> {
  const target = requestedAcr(req)
  const result = authenticationResult(proven)
  if (result && acrSatisfies(result.acr, target ? [target] : [])) return finishSignIn(context, req, res, accountId, proven)
  const signingIn = { accountId, email, proven, target }
  req.signin.journey.signingIn = signingIn
  // Part-way signed in is a step up from a stranger: a new session id for it.
  renewSession(req)
  const { offered, meetsTarget } = factorsToOffer(await secondFactorsOf(context.db, accountId), proven, target)
  if (!meetsTarget && proven.length >= 2) {
    // The service asks for a passkey or an authenticator app and the account has none:
    // having proven a password and a second factor, the person may add one now (asked
    // for what is missing, never refused silently).
    saveJourney(req)
    return res.redirect(303, `/interaction/${req.signin.uid}${target === acrValues.phishingResistant ? '/set-up-passkey' : '/set-up-authenticator-app'}`)
  }
  const first = offered[0] ?? 'email-code'
  saveJourney(req)
  if (first === 'email-code' && !(await sendCodeOrShowLimit(res, () => sendSignInCode(context, req), views.emailCode, 'code', { email, values: {} }))) return
  res.redirect(303, `/interaction/${req.signin.uid}${secondFactorPaths[first]}`)
}

/** The radios (a passkey is offered above them, by JavaScript only: without it a passkey cannot be used). */
function choiceItems(factors: SecondFactor[]) {
  return { passkey: factors.includes('passkey'), items: factors.filter((factor) => factor !== 'passkey').map((factor) => ({ value: factor, text: factorNames[factor].label, hint: { text: factorNames[factor].hint } })) }
}

/**
 * A person already signed in to Sign-in, whose service asks for more than their session
 * proved (`acr_values`, a step up): what the session proved, so that only what is missing
 * is asked for. Undefined for anything else (the password page then shows as usual).
 */
export async function stepUpFromSession(context: SigninContext, req: Request): Promise<{ accountId: string, email: string, proven: ProvenMethod[] } | undefined> {
  const { interaction } = req.signin
  const session = interaction.session as { accountId?: string, acr?: string } | undefined
  if (!session?.accountId || interaction.prompt.name !== 'login') return undefined
  const reasons = interaction.prompt.reasons
  if (!reasons.includes('acr_values_not_met') || reasons.some((reason) => reason !== 'acr_values_not_met')) return undefined
  // Only sessions that proved a password and a second factor are stepped up from (an app
  // session, to a passkey: ADR 12).
  if (session.acr !== acrValues.multiFactor && session.acr !== acrValues.app) return undefined
  const account = await findAccountById(context.db, session.accountId)
  if (!account) return undefined
  return { accountId: account.id, email: account.email, proven: ['password', session.acr === acrValues.app ? 'authenticator-app' : 'email-code'] }
}

export function secondFactorRoutes(context: SigninContext): Router {
  const router = Router({ mergeParams: true })
  const path = (req: Request, step: string) => `/interaction/${req.signin.uid}${step}`
  const needsPassword = requireStep(passwordProven, '')

  /** The factors this person may choose from now, strongest first. */
  async function choices(req: Request): Promise<SecondFactor[]> {
    const signingIn = req.signin.journey.signingIn!
    return factorsToOffer(await secondFactorsOf(context.db, signingIn.accountId), signingIn.proven, signingIn.target).offered
  }
  const otherWays = async (req: Request) => (await choices(req)).length > 1

  router.get('/email-code', needsPassword, async (req, res) => {
    res.render(views.emailCode, { email: req.signin.journey.signingIn!.email, otherWays: await otherWays(req) })
  })

  router.get('/choose-factor', needsPassword, async (req, res) => {
    res.render(views.choose, choiceItems(await choices(req)))
  })

  router.post('/choose-factor', needsPassword, async (req, res) => {
    const factors = await choices(req)
    const chosen = await chooseFactor(req, res, views.choose, factors, choiceItems(factors), () => sendSignInCode(context, req))
    if (chosen) res.redirect(303, path(req, secondFactorPaths[chosen]))
  })

  router.get('/authenticator-app-code', needsPassword, async (req, res) => {
    res.render(views.appCode, { otherWays: await otherWays(req) })
  })

  router.post('/authenticator-app-code', needsPassword, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    const proof = await proveAppCode(context, prover(req), field(req, 'code'))
    if (!proof.ok) return renderFormErrors(res, views.appCode, { code: proof.error }, { otherWays: await otherWays(req) }, proof.status)
    await continueSignIn(context, req, res, signingIn.accountId, signingIn.email, [...signingIn.proven, 'authenticator-app'])
  })

  // Setting up an app needs a password and a second factor proven in this sign-in.
  const twoProven = requireStep((j) => passwordProven(j) && j.signingIn!.proven.length >= 2, '')
  /**
   * Adding a first app needs a password and a second factor. Replacing an app needs the
   * app itself or a recovery code: a password and a mailbox must never be enough to put
   * someone else's app in place of the person's own (ADR 10).
   */
  async function mayAddApp(req: Request, res: Response, next: () => void) {
    const { proven, accountId } = req.signin.journey.signingIn!
    if (proven.includes('authenticator-app') || proven.includes('recovery-code') || proven.includes('passkey')) return next()
    if (!(await secondFactorsOf(context.db, accountId)).includes('authenticator-app')) return next()
    res.redirect(303, path(req, ''))
  }

  async function renderSetUp(req: Request, res: Response, errors?: Record<string, string>, status = 400) {
    const signingIn = req.signin.journey.signingIn!
    let factorId = signingIn.settingUpApp
    let secret = factorId ? await appSecretOf(context.db, factorId, context.codeKey) : undefined
    if (!factorId || !secret) {
      ({ factorId, secret } = await beginAppSetUp(context.db, signingIn.accountId, context.codeKey, context.clock.now()))
      signingIn.settingUpApp = factorId
      saveJourney(req)
    }
    const details = await setUpDetails(secret, signingIn.email)
    const page = { qrDataUrl: details.qrDataUrl, secretGroups: groupedSecret(secret), email: signingIn.email, optional: !signingIn.target || signingIn.target !== acrValues.app }
    if (errors) return renderFormErrors(res, views.setUpApp, errors, { ...page, values: { code: field(req, 'code').slice(0, 50) } }, status)
    res.render(views.setUpApp, page)
  }

  router.get('/set-up-authenticator-app', twoProven, mayAddApp, (req, res) => renderSetUp(req, res))

  router.post('/set-up-authenticator-app', twoProven, mayAddApp, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    const input = codeInputProblem(field(req, 'code'))
    if (input.problem || !signingIn.settingUpApp) return renderSetUp(req, res, { code: input.problem ?? appMessages.incorrect })
    const now = context.clock.now()
    const checked = await checkAppCode(context.db, context.store, context.codeKey, { accountId: signingIn.accountId, factorId: signingIn.settingUpApp }, input.code!, now)
    if (checked.result === 'locked') return renderSetUp(req, res, { code: appMessages.locked(checked.retryAfterMinutes) }, 429)
    if (checked.result !== 'correct') return renderSetUp(req, res, { code: appMessages[checked.result] })
    const codes = await addAuthenticatorApp(context, signingIn, signingIn.settingUpApp, originOf(req), emailContext(context, req))
    delete signingIn.settingUpApp
    // Proving the new app's code proves the app: it counts in this sign-in.
    signingIn.proven = [...signingIn.proven, 'authenticator-app']
    signingIn.newRecoveryCodes = codes
    saveJourney(req)
    res.redirect(303, path(req, '/recovery-codes'))
  })

  router.post('/set-up-authenticator-app/skip', twoProven, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    // Skipping is only offered when the service does not need an app; continueSignIn checks again.
    delete signingIn.settingUpApp
    await continueSignIn(context, req, res, signingIn.accountId, signingIn.email, signingIn.proven)
  })

  const hasNewCodes = requireStep((j) => passwordProven(j) && (j.signingIn!.newRecoveryCodes?.length ?? 0) > 0, '')

  router.get('/recovery-codes', hasNewCodes, (req, res) => {
    res.render(views.recoveryCodes, { codes: req.signin.journey.signingIn!.newRecoveryCodes })
  })

  router.post('/recovery-codes', hasNewCodes, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    delete signingIn.newRecoveryCodes
    await continueSignIn(context, req, res, signingIn.accountId, signingIn.email, signingIn.proven)
  })

  router.get('/recovery-code', needsPassword, (_req, res) => {
    res.render(views.recoveryCode)
  })

  router.post('/recovery-code', needsPassword, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    const typed = field(req, 'code')
    const proof = await proveRecoveryCode(context, prover(req), typed)
    if (!proof.ok) return renderFormErrors(res, views.recoveryCode, { code: proof.error }, { values: { code: typed.slice(0, 50) } }, proof.status)
    signingIn.proven = [...signingIn.proven, 'recovery-code']
    signingIn.recoveryRemaining = proof.recoveryRemaining ?? 0
    saveJourney(req)
    // A recovery code usually means a lost app: the person is asked to review their factors.
    res.redirect(303, path(req, '/recovery-code-used'))
  })

  const usedRecovery = requireStep((j) => j.signingIn?.proven.includes('recovery-code') === true, '')

  router.get('/recovery-code-used', usedRecovery, (req, res) => {
    res.render(views.recoveryUsed, { remaining: req.signin.journey.signingIn!.recoveryRemaining ?? 0 })
  })

  router.post('/recovery-code-used', usedRecovery, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    if (field(req, 'next') === 'set-up') return res.redirect(303, path(req, '/set-up-authenticator-app'))
    await continueSignIn(context, req, res, signingIn.accountId, signingIn.email, signingIn.proven)
  })

  router.post('/email-code', needsPassword, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    if (!(await enterEmailedCode(req, res, views.emailCode, { email: signingIn.email }, (code) => proveSignInCode(context, prover(req), code)))) return
    await continueSignIn(context, req, res, signingIn.accountId, signingIn.email, [...signingIn.proven, 'email-code'])
  })

  router.get('/email-code/resend', needsPassword, (req, res) => {
    res.render(views.resend, { email: req.signin.journey.signingIn!.email })
  })

  router.post('/email-code/resend', needsPassword, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    if (!(await sendCodeOrShowLimit(res, () => sendSignInCode(context, req), views.resend, 'send', { email: signingIn.email }))) return
    req.signin.journey.banner = `We've sent a new code to ${signingIn.email}`
    saveJourney(req)
    res.redirect(303, path(req, '/email-code'))
  })

  return router
}
