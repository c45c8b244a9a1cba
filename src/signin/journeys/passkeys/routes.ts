import { Router, type NextFunction, type Request, type Response } from 'express'
import { renderFormErrors } from '../../../platform/views.ts'
import { field } from '../../../platform/validation.ts'
import { findAccountById } from '../../accounts/accounts.ts'
import { recordSignIn } from '../../accounts/actions.ts'
import { acrValues, secondFactorsOf } from '../../accounts/factors.ts'
import { addPasskey, auditPasskeyCheck, provePasskey, signinRelyingParty, unanswered } from '../../accounts/passkey-actions.ts'
import { mayMakeChallenge } from '../../accounts/passkey-challenge-limit.ts'
import { authenticationOptions, checkPasskey, passkeyNameProblem, registrationOptions, type PasskeyCheck, type Refusal } from '../../accounts/passkeys.ts'
import type { SigninContext } from '../../context.ts'
import { continueSignIn } from '../second-factor/routes.ts'
import { originOf, requireStep, saveJourney, type Journey } from '../journey.ts'

/**
 * Passkeys in a sign-in (ADR 12), all under /interaction/<uid>/:
 *   sign in with a passkey alone, from the sign-in page (passkey-sign-in);
 *   a passkey as the second factor after the password (passkey);
 *   adding one after a password and a second factor (set-up-passkey, ⇢ recovery-codes).
 * Each ceremony's options come from a GET of `…/options` (JSON, made only when the person
 * presses the button); the answer is posted in an ordinary form with its CSRF token.
 */
const views = {
  signIn: 'journeys/sign-in/sign-in.njk',
  passkey: 'journeys/passkeys/passkey.njk',
  setUp: 'journeys/passkeys/set-up-passkey.njk'
}

export const passkeyMessages: Record<Refusal | 'duplicate', string> = {
  missing: 'Your passkey was not used. Try again, or choose another way to sign in',
  limit: 'You have tried to use a passkey too many times. Wait 5 minutes and try again, or choose another way to sign in',
  challenge: 'The passkey request has expired or was already used. Try again',
  invalid: 'We could not check your passkey. Try again, or choose another way to sign in',
  unknown: 'That passkey is not set up for this account. Use a passkey you have added, or choose another way to sign in',
  cloned: 'That passkey cannot be used because it may have been copied. Choose another way to sign in, then remove the passkey from your account',
  duplicate: 'That passkey has already been added to your account, or you have added the most passkeys you can (20)'
}

export const setUpMessages = {
  missing: 'Your passkey was not created. Try again, or skip this and add one later',
  limit: 'You have tried to add a passkey too many times. Wait 5 minutes and try again, or skip this and add one later'
}

export const passkeySignInMessages = {
  refused: 'We could not sign you in with that passkey. Try again, or sign in with your email address and password',
  limit: 'You have tried to use a passkey too many times. Wait 5 minutes and try again, or sign in with your email address and password',
  cloned: passkeyMessages.cloned
}

/** The binding of a challenge made in a sign-in: only this interaction (whose cookie the browser holds) may answer it. */
const bindingOf = (req: Request) => `interaction:${req.signin.uid}`
const passwordProven = (j: Journey) => j.signingIn?.proven.includes('password') === true

export function passkeyJourneyRoutes(context: SigninContext): Router {
  const router = Router({ mergeParams: true })
  const path = (req: Request, step: string) => `/interaction/${req.signin.uid}${step}`
  const rp = () => signinRelyingParty(context)
  const needsPassword = requireStep(passwordProven, '')
  const twoProven = requireStep((j) => passwordProven(j) && j.signingIn!.proven.length >= 2, '')

  /** Options for a ceremony, or 429 when this sign-in or this IP address has made its most challenges. */
  const options = (make: (req: Request) => Promise<object | undefined>) => async (req: Request, res: Response) => {
    if (!await mayMakeChallenge(context.store, bindingOf(req), req.ip, context.clock.now())) return res.status(429).json({ error: 'too-many-requests' })
    const made = await make(req)
    if (!made) return res.status(404).json({})
    res.json(made)
  }

  const auditCheck = (req: Request, checked: PasskeyCheck, email: string | undefined, event: 'sign-in' | 'second-factor') =>
    auditPasskeyCheck(context, { email, ip: req.ip, clientId: req.signin.client.clientId }, checked, event)

  // Sign in with a passkey alone: any passkey for Sign-in the authenticator holds (discoverable).
  router.get('/passkey-sign-in/options', options((req) => authenticationOptions(context.db, context.store, rp(), bindingOf(req))))

  router.post('/passkey-sign-in', async (req, res) => {
    const now = context.clock.now()
    const checked = await checkPasskey(context.db, context.store, rp(), bindingOf(req), field(req, 'response'), now)
    const account = checked.accountId ? await findAccountById(context.db, checked.accountId) : undefined
    if (checked.result === 'correct' || !unanswered(checked.reason)) await auditCheck(req, checked, account?.email, 'sign-in')
    if (checked.result !== 'correct' || !account) {
      const reason = checked.result === 'refused' ? checked.reason : 'unknown'
      const message = reason === 'cloned' || reason === 'limit' ? passkeySignInMessages[reason] : passkeySignInMessages.refused
      return renderFormErrors(res, views.signIn, { passkey: message }, { values: { email: '' } })
    }
    await recordSignIn(context, account, originOf(req), { method: 'passkey' })
    // A passkey with user verification is a whole sign-in (ADR 12): it meets every level Sign-in offers.
    await continueSignIn(context, req, res, account.id, account.email, ['passkey'])
  })

  // A passkey as the second factor, after the password: one of this account's passkeys.
  router.get('/passkey', needsPassword, async (req, res) => {
    const others = (await secondFactorsOf(context.db, req.signin.journey.signingIn!.accountId)).length > 1
    res.render(views.passkey, { otherWays: others, values: {} })
  })

  router.get('/passkey/options', needsPassword, options((req) =>
    authenticationOptions(context.db, context.store, rp(), bindingOf(req), req.signin.journey.signingIn!.accountId)))

  router.post('/passkey', needsPassword, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    const who = { accountId: signingIn.accountId, email: signingIn.email, ip: req.ip, clientId: req.signin.client.clientId }
    const checked = await provePasskey(context, who, bindingOf(req), field(req, 'response'))
    if (checked.result !== 'correct') {
      return renderFormErrors(res, views.passkey, { passkey: passkeyMessages[checked.reason] }, { otherWays: true, values: {} })
    }
    await continueSignIn(context, req, res, signingIn.accountId, signingIn.email, [...signingIn.proven, 'passkey'])
  })

  /**
   * A first passkey or app may be added after a password and a second factor. Once the
   * account has one, adding another needs a passkey, app or recovery code proven in this
   * sign-in: a password and a mailbox must never be enough to add a key of someone
   * else's (as for apps, ADR 10).
   */
  async function mayAddPasskey(req: Request, res: Response, next: NextFunction) {
    const { proven, accountId } = req.signin.journey.signingIn!
    if (proven.some((method) => method === 'passkey' || method === 'authenticator-app' || method === 'recovery-code')) return next()
    const factors = await secondFactorsOf(context.db, accountId)
    if (!factors.includes('passkey') && !factors.includes('authenticator-app')) return next()
    res.redirect(303, path(req, ''))
  }

  function setUpPage(req: Request) {
    const { target } = req.signin.journey.signingIn!
    return { optional: target !== acrValues.phishingResistant, values: { name: field(req, 'name').slice(0, 60) } }
  }

  router.get('/set-up-passkey', twoProven, mayAddPasskey, (req, res) => {
    res.render(views.setUp, setUpPage(req))
  })

  router.get('/set-up-passkey/options', twoProven, mayAddPasskey, options(async (req) => {
    const account = await findAccountById(context.db, req.signin.journey.signingIn!.accountId)
    if (!account) return undefined
    const name = `${account.given_name} ${account.family_name}`
    return registrationOptions(context.db, context.store, rp(), { id: account.id, email: account.email, name }, bindingOf(req))
  }))

  router.post('/set-up-passkey', twoProven, mayAddPasskey, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    const name = field(req, 'name').trim()
    const nameProblem = passkeyNameProblem(name)
    if (nameProblem) return renderFormErrors(res, views.setUp, { name: nameProblem }, setUpPage(req))
    const who = { accountId: signingIn.accountId, email: signingIn.email, ip: req.ip, clientId: req.signin.client.clientId }
    const added = await addPasskey(context, who, bindingOf(req), field(req, 'response'), name)
    if (!added.ok) {
      const message = added.reason === 'missing' || added.reason === 'limit' ? setUpMessages[added.reason] : passkeyMessages[added.reason]
      return renderFormErrors(res, views.setUp, { passkey: message }, setUpPage(req))
    }
    // Making a passkey with user verification proves it, as proving a new app's code does.
    signingIn.proven = [...signingIn.proven, 'passkey']
    if (added.recoveryCodes) {
      signingIn.newRecoveryCodes = added.recoveryCodes
      req.signin.journey.banner = `Passkey added: ${added.name}`
      saveJourney(req)
      return res.redirect(303, path(req, '/recovery-codes'))
    }
    saveJourney(req)
    await continueSignIn(context, req, res, signingIn.accountId, signingIn.email, signingIn.proven)
  })

  router.post('/set-up-passkey/skip', twoProven, async (req, res) => {
    const signingIn = req.signin.journey.signingIn!
    // Skipping is only offered when the service does not need a passkey; continueSignIn checks again.
    await continueSignIn(context, req, res, signingIn.accountId, signingIn.email, signingIn.proven)
  })

  return router
}
