import { Router, type Request } from 'express'
import { renderFormErrors } from '../../../platform/views.ts'
import { createAccount } from '../../accounts/actions.ts'
import { confirmEmail, sendConfirmationCode } from '../../accounts/code-actions.ts'
import type { SigninContext } from '../../context.ts'
import { sendCodeOrShowLimit } from '../steps/code-step.ts'
import { emailedCodePages } from '../steps/emailed-code-pages.ts'
import { newPasswordPage } from '../steps/new-password-page.ts'
import { continueSignIn, requestedAcr } from '../second-factor/routes.ts'
import { emailContext, originOf, requireStep, saveJourney, type Journey } from '../journey.ts'
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

  /** A code to the address, or a word to its owner if it has an account already: the same answer either way. */
  const sendCode = (req: Request, email: string) => sendConfirmationCode(context, email, originOf(req), emailContext(context, req))

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
    if (!(await sendCodeOrShowLimit(res, () => sendCode(req, values.email), views.details, 'email', { values }))) return
    req.signin.journey.registration = { ...values, confirmed: false }
    saveJourney(req)
    res.redirect(303, path(req, 'confirm-email'))
  })

  emailedCodePages(router, {
    at: { code: '/confirm-email', resend: '/resend-code' },
    href: (req, at) => path(req, at.slice(1)),
    reached: requireStep(hasRegistration, '/create-account'),
    views: { code: views.confirm, resend: views.resend },
    emailOf: (req) => req.signin.journey.registration!.email,
    check: async (req, code) => ({ result: await confirmEmail(context, req.signin.journey.registration!.email, code, originOf(req)) }),
    send: sendCode,
    proven: (req) => {
      req.signin.journey.registration!.confirmed = true
      return path(req, 'create-password')
    },
    // A corrected address replaces the old one; the journey (and the service it leads to) stays.
    resent: (req, email) => { req.signin.journey.registration = { ...req.signin.journey.registration!, email, confirmed: false } }
  })

  newPasswordPage(router, {
    at: '/create-password',
    reached: requireStep(emailConfirmed, '/confirm-email'),
    view: views.password,
    owner: async (req) => {
      const registration = req.signin.journey.registration!
      return registration.accountId ? { redirect: path(req, 'registration-complete') } : registration
    },
    save: async (req, password, registration) => {
      const account = await createAccount(context, registration, password, originOf(req))
      // The address gained an account since it was confirmed (another tab): nothing was created.
      if (!account) return { refused: 'An account with this email address already exists. Go back to sign in, or reset your password' }
      registration.accountId = account.id
      return { next: path(req, 'registration-complete') }
    }
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
