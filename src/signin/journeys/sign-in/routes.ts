import { Router, type Request, type Response } from 'express'
import { renderFormErrors } from '../../../platform/views.ts'
import { findAccountByEmail } from '../../accounts/accounts.ts'
import { recordSignIn } from '../../accounts/actions.ts'
import { spendOneHash, verifyPassword } from '../../accounts/passwords.ts'
import { recordAudit } from '../../audit.ts'
import type { SigninContext } from '../../context.ts'
import { continueSignIn, stepUpFromSession } from '../second-factor/routes.ts'
import { collect, emailProblem, field, hasErrors } from '../../../platform/validation.ts'

const view = 'journeys/sign-in/sign-in.njk'

export const messages = {
  wrongDetails: 'Enter a correct email address and password. The details you entered do not match our records',
  lockedOut: (minutes: number) => `You've entered the wrong details too many times. Wait ${minutes} ${minutes === 1 ? 'minute' : 'minutes'} and try again, or reset your password`,
  tooManyFromHere: 'There have been too many failed attempts to sign in from your network. Wait 1 hour and try again'
}

/** Sign in: email and password, then a second factor, then straight back to the service that asked. */
export function signInRoutes(context: SigninContext): Router {
  const router = Router({ mergeParams: true })

  router.get('/', async (req, res) => {
    // Signed in already, but the service asks for more (acr_values): ask only for what is missing.
    const stepUp = await stepUpFromSession(context, req)
    if (stepUp) return continueSignIn(context, req, res, stepUp.accountId, stepUp.email, stepUp.proven)
    res.render(view, { values: { email: req.signin.journey.reset?.email ?? req.signin.loginHint ?? '' } })
  })

  router.post('/', async (req: Request, res: Response) => {
    const email = field(req, 'email').trim()
    const password = field(req, 'password')
    const values = { email }
    const errors = collect([['email', emailProblem(email)], ['password', password === '' ? 'Enter your password' : undefined]])
    if (hasErrors(errors)) return renderFormErrors(res, view, errors, { values })

    const now = context.clock.now()
    const ip = req.ip ?? 'unknown'
    const audit = { email, ip, clientId: req.signin.client.clientId }
    // Reserved before the password is checked, so parallel guesses cannot overtake the count.
    const throttle = await context.throttle.reserve(email, ip, now)
    if (!throttle.allowed) {
      await recordAudit(context.db, { ...audit, event: 'sign-in-locked', outcome: 'failure', details: { reason: throttle.reason } }, now)
      const message = throttle.reason === 'ip' ? messages.tooManyFromHere : messages.lockedOut(throttle.retryAfterMinutes)
      return renderFormErrors(res, view, { email: message }, { values, lockedOut: throttle.reason === 'address' }, 429)
    }

    const account = await findAccountByEmail(context.db, email)
    let correct: boolean
    try {
      // An unknown address spends one hash too, so timing says nothing about who has an account.
      correct = account ? await verifyPassword(account.password_hash, password) : (await spendOneHash(password), false)
    } catch (error) {
      // Not checked (too busy to hash): this attempt must not count against anyone.
      await context.throttle.release(email, ip, now)
      throw error
    }
    if (!account || !correct) {
      const lockedNow = throttle.locksIfWrong
      await recordAudit(context.db, { ...audit, accountId: account?.id, event: 'sign-in', outcome: 'failure', details: { lockedNow } }, now)
      if (lockedNow) return renderFormErrors(res, view, { email: messages.lockedOut(throttle.retryAfterMinutesIfWrong) }, { values, lockedOut: true }, 429)
      return renderFormErrors(res, view, { email: messages.wrongDetails }, { values })
    }

    await context.throttle.succeeded(email, ip, now)
    await recordSignIn(context, account, { ip, clientId: audit.clientId }, { method: 'password', typedEmail: email, password })
    // The password alone is never enough: a second factor follows (ADR 10).
    await continueSignIn(context, req, res, account.id, account.email, ['password'])
  })

  return router
}
