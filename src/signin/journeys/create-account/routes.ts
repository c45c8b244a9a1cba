import { Router, type Request, type Response } from 'express'
import { queueEmail } from '../../../platform/mail/outbox.ts'
import { renderFormErrors } from '../../../platform/views.ts'
import { findAccountByEmail, insertAccount } from '../../accounts/accounts.ts'
import { checkCode, issueCode } from '../../accounts/emailed-codes.ts'
import { hashPassword } from '../../accounts/passwords.ts'
import { passwordMessages, passwordProblems, passwordRules } from '../../accounts/password-policy.ts'
import { recordAudit } from '../../audit.ts'
import type { SigninContext } from '../../context.ts'
import { accountAlreadyExists, confirmEmailCode } from '../../emails.ts'
import { checkResultProblem, codeInputProblem, codeMessages, emailContext, minutesUntil } from '../shared/code-step.ts'
import { continueSignIn, requestedAcr } from '../second-factor/routes.ts'
import { requireStep, saveJourney, type Journey } from '../journey.ts'
import { collect, emailProblem, field, hasErrors, nameProblem } from '../../../platform/validation.ts'

/**
 * Create an account on the way to a service:
 *   create-account → confirm-email (⇄ resend-code) → create-password → registration-complete → back to the service.
 * Each step is reachable only once the one before it is done.
 */
const hasRegistration = (j: Journey) => j.registration !== undefined
const emailConfirmed = (j: Journey) => j.registration?.confirmed === true
const accountCreated = (j: Journey) => j.registration?.accountId !== undefined

const views = {
  details: 'journeys/create-account/create-account.njk',
  confirm: 'journeys/create-account/confirm-email.njk',
  resend: 'journeys/create-account/resend-code.njk',
  password: 'journeys/create-account/create-password.njk',
  complete: 'journeys/create-account/registration-complete.njk'
}

export function createAccountRoutes(context: SigninContext): Router {
  const router = Router({ mergeParams: true })
  const path = (req: Request, step: string) => `/interaction/${req.signin.uid}/${step}`

  /**
   * Sends a code to the address, or, if it already has an account, tells its owner
   * instead. Both paths write the same rows and answer the same way (no enumeration).
   */
  async function sendConfirmationCode(req: Request, email: string): Promise<{ limitedMinutes?: number, expiresAt?: Date }> {
    const now = context.clock.now()
    const existing = await findAccountByEmail(context.db, email)
    return context.db.transaction().execute(async (trx) => {
      const issued = await issueCode(trx, 'confirm-email', email, context.codeKey, now)
      const audit = { email, ip: req.ip, clientId: req.signin.client.clientId }
      if ('limited' in issued) {
        await recordAudit(trx, { ...audit, event: 'code-limit-reached', outcome: 'failure', details: { purpose: 'confirm-email' } }, now)
        return { limitedMinutes: issued.retryAfterMinutes }
      }
      const c = emailContext(context, req)
      if (existing) {
        await queueEmail(trx, accountAlreadyExists(email, context.config.publicUrl, c), now)
        await recordAudit(trx, { ...audit, accountId: existing.id, event: 'account-creation-for-existing-email', outcome: 'failure' }, now)
      } else {
        await queueEmail(trx, confirmEmailCode(email, issued.code, minutesUntil(issued.expiresAt, now), c), now)
        await recordAudit(trx, { ...audit, event: 'code-sent', outcome: 'success', details: { purpose: 'confirm-email' } }, now)
      }
      return { expiresAt: issued.expiresAt }
    })
  }

  router.get('/create-account', (req, res) => {
    const r = req.signin.journey.registration
    res.render(views.details, { values: r ?? { email: req.signin.loginHint ?? '' } })
  })

  router.post('/create-account', async (req, res) => {
    const values = { givenName: field(req, 'givenName').trim(), familyName: field(req, 'familyName').trim(), email: field(req, 'email').trim() }
    const errors = collect([
      ['givenName', nameProblem(values.givenName, 'First name')],
      ['familyName', nameProblem(values.familyName, 'Last name')],
      ['email', emailProblem(values.email)]
    ])
    if (hasErrors(errors)) return renderFormErrors(res, views.details, errors, { values })
    const sent = await sendConfirmationCode(req, values.email)
    if (sent.limitedMinutes) return renderFormErrors(res, views.details, { email: codeMessages.limited(sent.limitedMinutes) }, { values }, 429)
    req.signin.journey.registration = { ...values, confirmed: false }
    saveJourney(req)
    res.redirect(303, path(req, 'confirm-email'))
  })

  router.get('/confirm-email', requireStep(hasRegistration, '/create-account'), (req, res) => {
    res.render(views.confirm, { email: req.signin.journey.registration!.email })
  })

  router.post('/confirm-email', requireStep(hasRegistration, '/create-account'), async (req, res) => {
    const registration = req.signin.journey.registration!
    const typed = field(req, 'code')
    const input = codeInputProblem(typed)
    // What was typed stays in the field, so a slip can be corrected rather than retyped.
    const context_ = { email: registration.email, values: { code: typed.slice(0, 50) } }
    if (input.problem) return renderFormErrors(res, views.confirm, { code: input.problem }, context_)
    const now = context.clock.now()
    const result = await checkCode(context.db, 'confirm-email', registration.email, input.code!, context.codeKey, now)
    const problem = checkResultProblem(result)
    await recordAudit(context.db, {
      event: problem ? 'email-confirmation-failed' : 'email-confirmed', outcome: problem ? 'failure' : 'success',
      email: registration.email, ip: req.ip, clientId: req.signin.client.clientId, ...(problem ? { details: { result } } : {})
    }, now)
    if (problem) return renderFormErrors(res, views.confirm, { code: problem }, context_)
    registration.confirmed = true
    saveJourney(req)
    res.redirect(303, path(req, 'create-password'))
  })

  router.get('/resend-code', requireStep(hasRegistration, '/create-account'), (req, res) => {
    res.render(views.resend, { values: { email: req.signin.journey.registration!.email } })
  })

  router.post('/resend-code', requireStep(hasRegistration, '/create-account'), async (req, res) => {
    const email = field(req, 'email').trim()
    const problem = emailProblem(email)
    if (problem) return renderFormErrors(res, views.resend, { email: problem }, { values: { email } })
    const sent = await sendConfirmationCode(req, email)
    if (sent.limitedMinutes) return renderFormErrors(res, views.resend, { email: codeMessages.limited(sent.limitedMinutes) }, { values: { email } }, 429)
    // A corrected address replaces the old one; the journey (and the service it leads to) stays.
    req.signin.journey.registration = { ...req.signin.journey.registration!, email, confirmed: false }
    req.signin.journey.banner = `We've sent a new code to ${email}`
    saveJourney(req)
    res.redirect(303, path(req, 'confirm-email'))
  })

  router.get('/create-password', requireStep(emailConfirmed, '/confirm-email'), (req, res) => {
    res.render(views.password, { rules: passwordRules })
  })

  router.post('/create-password', requireStep(emailConfirmed, '/confirm-email'), async (req: Request, res: Response) => {
    const registration = req.signin.journey.registration!
    if (registration.accountId) return res.redirect(303, path(req, 'registration-complete'))
    const password = field(req, 'password')
    const problems = passwordProblems({
      password, confirmation: field(req, 'confirmPassword'), email: registration.email,
      givenName: registration.givenName, familyName: registration.familyName
    })
    const errors = collect([
      ['password', problems.password && passwordMessages[problems.password]],
      ['confirmPassword', problems.confirmPassword && passwordMessages[problems.confirmPassword]]
    ])
    if (hasErrors(errors)) return renderFormErrors(res, views.password, errors, { rules: passwordRules })
    const passwordHash = await hashPassword(password)
    const now = context.clock.now()
    const account = await context.db.transaction().execute(async (trx) => {
      const created = await insertAccount(trx, { ...registration, passwordHash }, now)
      if (created) await recordAudit(trx, { event: 'account-created', outcome: 'success', accountId: created.id, email: created.email, ip: req.ip, clientId: req.signin.client.clientId }, now)
      return created
    })
    if (!account) {
      // The address gained an account since it was confirmed (another tab): nothing was created.
      return renderFormErrors(res, views.password, { password: 'An account with this email address already exists. Go back to sign in, or reset your password' }, { rules: passwordRules }, 409)
    }
    registration.accountId = account.id
    saveJourney(req)
    res.redirect(303, path(req, 'registration-complete'))
  })

  router.get('/registration-complete', requireStep(accountCreated, '/create-password'), (_req, res) => {
    res.render(views.complete)
  })

  router.post('/registration-complete', requireStep(accountCreated, '/create-password'), async (req, res) => {
    const registration = req.signin.journey.registration!
    // The address was proven with a code in this same interaction, and the password was
    // just chosen: a password and an emailed code, as a sign-in would ask (ADR 10).
    const next = field(req, 'next')
    if (next === 'set-up-app' || next === 'set-up-passkey') {
      // The offer to add a passkey (shown first) or an authenticator app: optional, the emailed code remains.
      req.signin.journey.signingIn = { accountId: registration.accountId!, email: registration.email, proven: ['password', 'email-code'], target: requestedAcr(req) }
      saveJourney(req)
      return res.redirect(303, path(req, next === 'set-up-app' ? 'set-up-authenticator-app' : 'set-up-passkey'))
    }
    await continueSignIn(context, req, res, registration.accountId!, registration.email, ['password', 'email-code'])
  })

  return router
}
