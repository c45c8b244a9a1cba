import { Router, type NextFunction, type Request, type Response } from 'express'
import { queueEmail } from '../../platform/mail/outbox.ts'
import { renderFormErrors } from '../../platform/views.ts'
import { collect, field, hasErrors, nameProblem } from '../../platform/validation.ts'
import { recordAudit } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { nameChanged } from '../emails.ts'
import { recentActivity, secondFactorSummary } from './activity.ts'

/** How long after signing in a person may change their account without signing in again. */
export const recentSignInMinutes = 15

const views = {
  account: 'your-account/account.njk',
  notSignedIn: 'your-account/not-signed-in.njk',
  signInAgain: 'your-account/sign-in-again.njk',
  changeName: 'your-account/change-name.njk'
}

/** Only for someone signed in at Sign-in: anyone else is told how to sign in. */
function requireSignedIn(req: Request, res: Response, next: NextFunction) {
  if (req.signedIn) return next()
  res.status(401).render(views.notSignedIn)
}

/**
 * Every change needs a recent sign-in (docs/security.md "your account"): within 15
 * minutes of the session's last password and second factor. A session left open on a
 * shared computer cannot be used to change the account.
 */
export function signedInRecently(context: SigninContext, loginTs: number | undefined): boolean {
  if (!loginTs) return false
  return context.clock.now().getTime() - loginTs * 1000 <= recentSignInMinutes * 60_000
}

function requireRecentSignIn(context: SigninContext) {
  return function requireRecentSignInMiddleware(req: Request, res: Response, next: NextFunction) {
    if (signedInRecently(context, req.signedIn!.loginTs)) return next()
    res.status(403).render(views.signInAgain, { minutes: recentSignInMinutes })
  }
}

/** Your account: what Sign-in holds about the person, what they did recently, and changes to it. */
export function yourAccountRoutes(context: SigninContext): Router {
  const router = Router()
  router.use(requireSignedIn)
  const signInAgain = requireRecentSignIn(context)

  router.get('/', async (req, res) => {
    const { account } = req.signedIn!
    const [factors, activity] = await Promise.all([
      secondFactorSummary(context.db, account.id),
      recentActivity(context.db, account.id)
    ])
    const banner = req.session.get<string>('account-banner')
    if (banner) req.session.unset('account-banner')
    const activityRows = activity.map((item) => [{ text: item.when }, { text: item.factor }, { text: item.service }])
    res.render(views.account, { account, factors, activity, activityRows, banner })
  })

  router.get('/change-name', signInAgain, (req, res) => {
    const { account } = req.signedIn!
    res.render(views.changeName, { values: { givenName: account.given_name, familyName: account.family_name } })
  })

  router.post('/change-name', signInAgain, async (req, res) => {
    const { account } = req.signedIn!
    const values = { givenName: field(req, 'givenName').trim(), familyName: field(req, 'familyName').trim() }
    const errors = collect([
      ['givenName', nameProblem(values.givenName, 'First name')],
      ['familyName', nameProblem(values.familyName, 'Last name')]
    ])
    if (hasErrors(errors)) return renderFormErrors(res, views.changeName, errors, { values })
    const now = context.clock.now()
    await context.db.transaction().execute(async (trx) => {
      await trx.updateTable('accounts').set({ given_name: values.givenName, family_name: values.familyName }).where('id', '=', account.id).execute()
      await recordAudit(trx, { event: 'name-changed', outcome: 'success', accountId: account.id, email: account.email, ip: req.ip }, now)
      await queueEmail(trx, nameChanged(account.email, `${values.givenName} ${values.familyName}`, { signinName: context.config.serviceName }), now)
    })
    req.session.set('account-banner', 'Your name has been changed')
    res.redirect(303, '/account')
  })

  return router
}
