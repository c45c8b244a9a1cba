import { Router, type Request, type Response } from 'express'
import { renderFormErrors } from '../../platform/views.ts'
import { emailProblem, field } from '../../platform/validation.ts'
import { normaliseEmail } from '../accounts/accounts.ts'
import { changeEmailAddress } from '../accounts/actions.ts'
import { proveEmailChangeCode, sendEmailChangeCode } from '../accounts/code-actions.ts'
import type { SigninContext } from '../context.ts'
import { enterEmailedCode, sendCodeOrShowLimit } from '../journeys/steps/code-step.ts'

/**
 * Changing the email address (docs/journeys.md "Your account", ADR 13):
 *   change-email → check-your-email (⇄ resend, or back for a different address) → /account
 * A code goes to the new address under the usual code rules; the address changes only
 * when it is entered. An address that already has an account gets the same journey (its
 * owner is told instead of sent a code), so the form never says which addresses are in
 * use; that is said only to someone who has the code, who controls that mailbox anyway.
 */
const views = {
  enter: 'your-account/change-email.njk',
  check: 'your-account/change-email-code.njk',
  resend: 'your-account/change-email-resend.njk'
}

export const changeEmailMessages = {
  same: 'Enter a different email address from the one you use now',
  taken: 'An account already uses this email address. Enter a different email address',
  noCode: 'Enter your new email address again'
}

interface PendingChange { sessionId: string, accountId: string, email: string }
const pendingKey = 'account-change-email'

export function changeEmailRoutes(context: SigninContext): Router {
  const router = Router()

  function pendingOf(req: Request): PendingChange | undefined {
    const pending = req.session.get<PendingChange>(pendingKey)
    const { account, sessionId } = req.signedIn!
    return pending?.sessionId === sessionId && pending.accountId === account.id ? pending : undefined
  }

  /** The code to the address, or a word to its owner if it has an account already: the same answer either way. */
  const sendCode = (req: Request, email: string) => sendEmailChangeCode(context, req.signedIn!.account, email, { ip: req.ip })

  router.get('/', (req, res) => {
    res.render(views.enter, { values: { email: pendingOf(req)?.email ?? '' } })
  })

  router.post('/', async (req, res) => {
    const { account, sessionId } = req.signedIn!
    const email = field(req, 'email').trim()
    const values = { email: email.slice(0, 300) }
    const problem = emailProblem(email, 'your new') ?? (normaliseEmail(email) === account.email_normalised ? changeEmailMessages.same : undefined)
    if (problem) return renderFormErrors(res, views.enter, { email: problem }, { values })
    if (!(await sendCodeOrShowLimit(res, () => sendCode(req, email), views.enter, 'email', { values }))) return
    req.session.set(pendingKey, { sessionId, accountId: account.id, email } satisfies PendingChange)
    res.redirect(303, '/account/change-email/check-your-email')
  })

  const needsPending = (req: Request, res: Response, next: () => void) => {
    if (pendingOf(req)) return next()
    res.redirect(303, '/account/change-email')
  }

  router.get('/check-your-email', needsPending, (req, res) => {
    const banner = req.session.get<string>('change-email-banner')
    if (banner) req.session.unset('change-email-banner')
    res.render(views.check, { email: pendingOf(req)!.email, banner })
  })

  router.post('/check-your-email', needsPending, async (req, res) => {
    const { account } = req.signedIn!
    const pending = pendingOf(req)!
    const check = (code: string) => proveEmailChangeCode(context, account, pending.email, code, { ip: req.ip })
    if (!(await enterEmailedCode(req, res, views.check, { email: pending.email }, check))) return
    const changed = await changeEmailAddress(context, account, pending.email, { ip: req.ip })
    req.session.unset(pendingKey)
    // They have the code, so the mailbox is theirs: it is safe to say the address is in use.
    if (changed === 'taken') return renderFormErrors(res, views.enter, { email: changeEmailMessages.taken }, { values: { email: pending.email } }, 409)
    // Sessions carry on: the person is the same, and services know them by sub, not address (ADR 13).
    req.session.set('account-banner', `Your email address has been changed to ${pending.email}`)
    res.redirect(303, '/account')
  })

  router.get('/resend', needsPending, (req, res) => {
    res.render(views.resend, { email: pendingOf(req)!.email })
  })

  router.post('/resend', needsPending, async (req, res) => {
    const pending = pendingOf(req)!
    if (!(await sendCodeOrShowLimit(res, () => sendCode(req, pending.email), views.resend, 'send', { email: pending.email }))) return
    req.session.set('change-email-banner', `We've sent a new code to ${pending.email}`)
    res.redirect(303, '/account/change-email/check-your-email')
  })

  return router
}
