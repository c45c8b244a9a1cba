import { Router, type Request } from 'express'
import { findAccountByEmail, type Account } from '../../accounts/accounts.ts'
import { resetPassword } from '../../accounts/actions.ts'
import { proveResetCode, sendResetCode } from '../../accounts/code-actions.ts'
import type { SigninContext } from '../../context.ts'
import { emailForCode } from '../steps/code-step.ts'
import { emailedCodePages } from '../steps/emailed-code-pages.ts'
import { newPasswordPage, type PasswordOwner } from '../steps/new-password-page.ts'
import { continueSignIn } from '../second-factor/routes.ts'
import { emailContext, originOf, requireStep, saveJourney, type Journey } from '../journey.ts'

/**
 * Forgotten password:
 *   forgotten-password → check-email (⇄ resend-code) → new-password → password-reset → back to the service.
 * The first answer is the same whether or not the address has an account.
 */
const requested = (j: Journey) => j.reset !== undefined
const confirmed = (j: Journey) => j.reset?.confirmed === true && j.reset.accountId !== undefined
const done = (j: Journey) => j.reset?.done === true

const views = {
  request: 'journeys/forgotten-password/forgotten-password.njk',
  code: 'journeys/forgotten-password/check-email.njk',
  resend: 'journeys/forgotten-password/resend-code.njk',
  password: 'journeys/forgotten-password/new-password.njk',
  done: 'journeys/forgotten-password/password-reset.njk'
}

export function forgottenPasswordRoutes(context: SigninContext): Router {
  const router = Router({ mergeParams: true })
  const path = (req: Request, step: string) => `/interaction/${req.signin.uid}/forgotten-password${step}`

  /** A code to the address if it has an account; the same answer either way. */
  const sendCode = (req: Request, email: string) => sendResetCode(context, email, originOf(req), emailContext(context, req))

  router.get('/', (req, res) => {
    res.render(views.request, { values: { email: req.signin.journey.reset?.email ?? req.signin.loginHint ?? '' } })
  })

  router.post('/', async (req, res) => {
    const email = await emailForCode(req, res, views.request, (email) => sendCode(req, email))
    if (!email) return
    req.signin.journey.reset = { email, confirmed: false, done: false }
    saveJourney(req)
    res.redirect(303, path(req, '/check-email'))
  })

  emailedCodePages(router, {
    at: { code: '/check-email', resend: '/resend-code' },
    href: path,
    reached: requireStep(requested, '/forgotten-password'),
    views: { code: views.code, resend: views.resend },
    emailOf: (req) => req.signin.journey.reset!.email,
    check: (req, code) => proveResetCode(context, req.signin.journey.reset!.email, code, originOf(req)),
    send: sendCode,
    proven: (req, accountId) => {
      req.signin.journey.reset = { ...req.signin.journey.reset!, confirmed: true, accountId }
      return path(req, '/new-password')
    },
    resent: (req, email) => { req.signin.journey.reset = { email, confirmed: false, done: false } }
  })

  newPasswordPage<PasswordOwner & { account: Account }>(router, {
    at: '/new-password',
    reached: requireStep(confirmed, '/forgotten-password/check-email'),
    view: views.password,
    owner: async (req) => {
      const reset = req.signin.journey.reset!
      if (reset.done) return { redirect: path(req, '/done') }
      const account = await findAccountByEmail(context.db, reset.email)
      if (!account || account.id !== reset.accountId) return { redirect: path(req, '') }
      return { email: account.email, givenName: account.given_name, familyName: account.family_name, account }
    },
    save: async (req, password, { account }) => {
      await resetPassword(context, account, password, originOf(req), emailContext(context, req))
      req.signin.journey.reset!.done = true
      return { next: path(req, '/done') }
    }
  })

  router.get('/done', requireStep(done, '/forgotten-password'), (_req, res) => {
    res.render(views.done)
  })

  router.post('/done', requireStep(done, '/forgotten-password'), async (req, res) => {
    const reset = req.signin.journey.reset!
    // The emailed code proved the address in this interaction and the password was just
    // chosen: as much as a password and an emailed code. A service that asks for an
    // authenticator app still gets one asked for (ADR 10).
    await continueSignIn(context, req, res, reset.accountId!, reset.email, ['password', 'email-code'])
  })

  return router
}
