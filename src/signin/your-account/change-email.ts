import { Router, type Request, type Response } from 'express'
import { queueEmail } from '../../platform/mail/outbox.ts'
import { renderFormErrors } from '../../platform/views.ts'
import { emailProblem, field } from '../../platform/validation.ts'
import { changeEmail, findAccountByEmail, normaliseEmail } from '../accounts/accounts.ts'
import { checkCode, issueCode } from '../accounts/emailed-codes.ts'
import { recordAudit } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { changeEmailCode, emailAddressChanged, emailChangeToExistingAddress } from '../emails.ts'
import { checkResultProblem, codeInputProblem, codeMessages, minutesUntil } from '../journeys/shared/code-step.ts'

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
  const c = { signinName: context.config.serviceName }

  function pendingOf(req: Request): PendingChange | undefined {
    const pending = req.session.get<PendingChange>(pendingKey)
    const { account, sessionId } = req.signedIn!
    return pending?.sessionId === sessionId && pending.accountId === account.id ? pending : undefined
  }

  /** Sends the code, or tells an address's owner that another account asked for it: the same rows, the same answer. */
  async function sendCode(req: Request, email: string): Promise<{ limitedMinutes?: number }> {
    const { account } = req.signedIn!
    const now = context.clock.now()
    const existing = await findAccountByEmail(context.db, email)
    return context.db.transaction().execute(async (trx) => {
      const issued = await issueCode(trx, 'change-email', email, context.codeKey, now)
      const audit = { accountId: account.id, email: account.email, ip: req.ip }
      if ('limited' in issued) {
        await recordAudit(trx, { ...audit, event: 'code-limit-reached', outcome: 'failure', details: { purpose: 'change-email' } }, now)
        return { limitedMinutes: issued.retryAfterMinutes }
      }
      if (existing) {
        await queueEmail(trx, emailChangeToExistingAddress(email, c), now)
        await recordAudit(trx, { ...audit, event: 'email-change-to-existing-email', outcome: 'failure', details: { otherAccount: existing.id } }, now)
      } else {
        await queueEmail(trx, changeEmailCode(email, issued.code, minutesUntil(issued.expiresAt, now), c), now)
        await recordAudit(trx, { ...audit, event: 'email-change-requested', outcome: 'success', details: { newEmail: email } }, now)
      }
      return {}
    })
  }

  router.get('/', (req, res) => {
    res.render(views.enter, { values: { email: pendingOf(req)?.email ?? '' } })
  })

  router.post('/', async (req, res) => {
    const { account, sessionId } = req.signedIn!
    const email = field(req, 'email').trim()
    const values = { email: email.slice(0, 300) }
    const problem = emailProblem(email) ?? (normaliseEmail(email) === account.email_normalised ? changeEmailMessages.same : undefined)
    if (problem) return renderFormErrors(res, views.enter, { email: problem }, { values })
    const sent = await sendCode(req, email)
    if (sent.limitedMinutes) return renderFormErrors(res, views.enter, { email: codeMessages.limited(sent.limitedMinutes) }, { values }, 429)
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
    const typed = field(req, 'code')
    const shown = { email: pending.email, values: { code: typed.slice(0, 50) } }
    const input = codeInputProblem(typed)
    if (input.problem) return renderFormErrors(res, views.check, { code: input.problem }, shown)
    const now = context.clock.now()
    const audit = { accountId: account.id, email: account.email, ip: req.ip }
    const result = await checkCode(context.db, 'change-email', pending.email, input.code!, context.codeKey, now)
    const problem = checkResultProblem(result)
    if (problem) {
      await recordAudit(context.db, { ...audit, event: 'email-change-code-failed', outcome: 'failure', details: { result } }, now)
      return renderFormErrors(res, views.check, { code: problem }, shown)
    }
    const changed = await changeEmail(context.db, account.id, pending.email, async (trx) => {
      await recordAudit(trx, { ...audit, event: 'email-changed', outcome: 'success', details: { from: account.email, to: pending.email } }, now)
      await queueEmail(trx, emailAddressChanged(account.email, pending.email, c), now)
    })
    req.session.unset(pendingKey)
    if (changed === 'taken') {
      // They have the code, so the mailbox is theirs: it is safe to say the address is in use.
      await recordAudit(context.db, { ...audit, event: 'email-change-refused', outcome: 'failure', details: { reason: 'address has an account' } }, now)
      return renderFormErrors(res, views.enter, { email: changeEmailMessages.taken }, { values: { email: pending.email } }, 409)
    }
    // Sessions carry on: the person is the same, and services know them by sub, not address (ADR 13).
    req.session.set('account-banner', `Your email address has been changed to ${pending.email}`)
    res.redirect(303, '/account')
  })

  router.get('/resend', needsPending, (req, res) => {
    res.render(views.resend, { email: pendingOf(req)!.email })
  })

  router.post('/resend', needsPending, async (req, res) => {
    const pending = pendingOf(req)!
    const sent = await sendCode(req, pending.email)
    if (sent.limitedMinutes) return renderFormErrors(res, views.resend, { send: codeMessages.limited(sent.limitedMinutes) }, { email: pending.email }, 429)
    req.session.set('change-email-banner', `We've sent a new code to ${pending.email}`)
    res.redirect(303, '/account/change-email/check-your-email')
  })

  return router
}
