import { Router, type Request } from 'express'
import { queueEmail } from '../../../platform/mail/outbox.ts'
import { renderFormErrors } from '../../../platform/views.ts'
import { findAccountByEmail, setPassword } from '../../accounts/accounts.ts'
import { checkCode, issueCode } from '../../accounts/emailed-codes.ts'
import { hashPassword } from '../../accounts/passwords.ts'
import { passwordMessages, passwordProblems, passwordRules } from '../../accounts/password-policy.ts'
import { recordAudit } from '../../audit.ts'
import type { SigninContext } from '../../context.ts'
import { passwordChanged, resetPasswordCode } from '../../emails.ts'
import { checkResultProblem, codeInputProblem, codeMessages, emailContext, minutesUntil } from '../shared/code-step.ts'
import { continueSignIn } from '../second-factor/routes.ts'
import { requireStep, saveJourney, type Journey } from '../journey.ts'
import { collect, emailProblem, field, hasErrors } from '../../../platform/validation.ts'

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

  async function sendResetCode(req: Request, email: string): Promise<{ limitedMinutes?: number }> {
    const now = context.clock.now()
    const account = await findAccountByEmail(context.db, email)
    return context.db.transaction().execute(async (trx) => {
      // A code is issued (and counted) either way; only an address with an account gets it.
      const issued = await issueCode(trx, 'reset-password', email, context.codeKey, now)
      const audit = { email, accountId: account?.id, ip: req.ip, clientId: req.signin.client.clientId }
      if ('limited' in issued) {
        await recordAudit(trx, { ...audit, event: 'code-limit-reached', outcome: 'failure', details: { purpose: 'reset-password' } }, now)
        return { limitedMinutes: issued.retryAfterMinutes }
      }
      if (account) await queueEmail(trx, resetPasswordCode(account.email, issued.code, minutesUntil(issued.expiresAt, now), emailContext(context, req)), now)
      await recordAudit(trx, { ...audit, event: 'password-reset-requested', outcome: account ? 'success' : 'failure' }, now)
      return {}
    })
  }

  router.get('/', (req, res) => {
    res.render(views.request, { values: { email: req.signin.journey.reset?.email ?? req.signin.loginHint ?? '' } })
  })

  router.post('/', async (req, res) => {
    const email = field(req, 'email').trim()
    const problem = emailProblem(email)
    if (problem) return renderFormErrors(res, views.request, { email: problem }, { values: { email } })
    const sent = await sendResetCode(req, email)
    if (sent.limitedMinutes) return renderFormErrors(res, views.request, { email: codeMessages.limited(sent.limitedMinutes) }, { values: { email } }, 429)
    req.signin.journey.reset = { email, confirmed: false, done: false }
    saveJourney(req)
    res.redirect(303, path(req, '/check-email'))
  })

  router.get('/check-email', requireStep(requested, '/forgotten-password'), (req, res) => {
    res.render(views.code, { email: req.signin.journey.reset!.email })
  })

  router.post('/check-email', requireStep(requested, '/forgotten-password'), async (req, res) => {
    const reset = req.signin.journey.reset!
    const typed = field(req, 'code')
    const input = codeInputProblem(typed)
    // What was typed stays in the field, so a slip can be corrected rather than retyped.
    const shown = { email: reset.email, values: { code: typed.slice(0, 50) } }
    if (input.problem) return renderFormErrors(res, views.code, { code: input.problem }, shown)
    const now = context.clock.now()
    const result = await checkCode(context.db, 'reset-password', reset.email, input.code!, context.codeKey, now)
    const problem = checkResultProblem(result)
    const account = problem ? undefined : await findAccountByEmail(context.db, reset.email)
    if (problem || !account) {
      await recordAudit(context.db, { event: 'password-reset-code-failed', outcome: 'failure', email: reset.email, ip: req.ip, clientId: req.signin.client.clientId, details: { result } }, now)
      return renderFormErrors(res, views.code, { code: problem ?? codeMessages.incorrect }, shown)
    }
    reset.confirmed = true
    reset.accountId = account.id
    saveJourney(req)
    res.redirect(303, path(req, '/new-password'))
  })

  router.get('/resend-code', requireStep(requested, '/forgotten-password'), (req, res) => {
    res.render(views.resend, { values: { email: req.signin.journey.reset!.email } })
  })

  router.post('/resend-code', requireStep(requested, '/forgotten-password'), async (req, res) => {
    const email = field(req, 'email').trim()
    const problem = emailProblem(email)
    if (problem) return renderFormErrors(res, views.resend, { email: problem }, { values: { email } })
    const sent = await sendResetCode(req, email)
    if (sent.limitedMinutes) return renderFormErrors(res, views.resend, { email: codeMessages.limited(sent.limitedMinutes) }, { values: { email } }, 429)
    req.signin.journey.reset = { email, confirmed: false, done: false }
    req.signin.journey.banner = `We've sent a new code to ${email}`
    saveJourney(req)
    res.redirect(303, path(req, '/check-email'))
  })

  router.get('/new-password', requireStep(confirmed, '/forgotten-password/check-email'), (_req, res) => {
    res.render(views.password, { rules: passwordRules })
  })

  router.post('/new-password', requireStep(confirmed, '/forgotten-password/check-email'), async (req, res) => {
    const reset = req.signin.journey.reset!
    if (reset.done) return res.redirect(303, path(req, '/done'))
    const account = await findAccountByEmail(context.db, reset.email)
    if (!account || account.id !== reset.accountId) return res.redirect(303, path(req, ''))
    const password = field(req, 'password')
    const problems = passwordProblems({
      password, confirmation: field(req, 'confirmPassword'), email: account.email, givenName: account.given_name, familyName: account.family_name
    })
    const errors = collect([
      ['password', problems.password && passwordMessages[problems.password]],
      ['confirmPassword', problems.confirmPassword && passwordMessages[problems.confirmPassword]]
    ])
    if (hasErrors(errors)) return renderFormErrors(res, views.password, errors, { rules: passwordRules })
    const passwordHash = await hashPassword(password)
    const now = context.clock.now()
    await context.db.transaction().execute(async (trx) => {
      await setPassword(trx, account.id, passwordHash, now)
      await queueEmail(trx, passwordChanged(account.email, emailContext(context, req)), now)
      await recordAudit(trx, { event: 'password-reset', outcome: 'success', accountId: account.id, email: account.email, ip: req.ip, clientId: req.signin.client.clientId }, now)
    })
    // Proving control of the address and choosing a new password clears any lockout.
    await context.throttle.clear(account.email)
    reset.done = true
    saveJourney(req)
    res.redirect(303, path(req, '/done'))
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
