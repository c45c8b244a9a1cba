import { Router, type NextFunction, type Request, type Response } from 'express'
import { renderFormErrors } from '../../platform/views.ts'
import { collect, field, hasErrors, nameProblem } from '../../platform/validation.ts'
import { recordAudit } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { changeName, changePassword } from '../accounts/actions.ts'
import { checkAccountPassword } from './password-check.ts'
import { passwordMessages, passwordProblems, passwordRules } from '../accounts/password-policy.ts'
import { recentActivity, secondFactorSummary } from './activity.ts'
import { changeEmailRoutes } from './change-email.ts'
import { endSessions } from './end-sessions.ts'
import { manageFactorRoutes } from './manage-factors.ts'
import { requireRecentSignIn, signInAgainRoutes } from './sign-in-again.ts'
import { passkeyAccountRoutes } from './passkeys.ts'

const views = {
  account: 'your-account/account.njk',
  notSignedIn: 'your-account/not-signed-in.njk',
  changeName: 'your-account/change-name.njk',
  changePassword: 'your-account/change-password.njk',
  signedOutEverywhere: 'your-account/signed-out-everywhere.njk'
}

export const accountMessages = {
  currentMissing: 'Enter your current password',
  currentWrong: 'Your current password is not correct',
  newMissing: 'Enter a new password'
}

/** Only for someone signed in at Sign-in: anyone else is told how to sign in. */
function requireSignedIn(req: Request, res: Response, next: NextFunction) {
  if (req.signedIn) return next()
  // Not known to be signed out: the store could not say (the error pages answer 503 for an outage).
  if (req.signedInError) return next(req.signedInError)
  res.status(401).render(views.notSignedIn)
}

/** Your account: what Sign-in holds about the person, what they did recently, and changes to it. */
export function yourAccountRoutes(context: SigninContext): Router {
  const router = Router()
  // After signing out everywhere nobody is signed in: this page says what happened.
  router.get('/signed-out-everywhere', (req, res) => {
    res.locals.navigation = undefined
    res.render(views.signedOutEverywhere)
  })
  router.use(requireSignedIn)
  // Every change needs a recent sign-in (docs/security.md "your account"): within 15 minutes
  // of the session's last password and second factor. A session left open on a shared
  // computer cannot be used to change the account; the person signs in again, then returns.
  router.use('/sign-in-again', signInAgainRoutes(context))
  const signInAgain = requireRecentSignIn(context)
  router.use(passkeyAccountRoutes(context, signInAgain))

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
    await changeName(context, account, values, { ip: req.ip })
    req.session.set('account-banner', 'Your name has been changed')
    res.redirect(303, '/account')
  })

  router.use('/change-email', signInAgain, changeEmailRoutes(context))
  router.use(manageFactorRoutes(context))

  router.get('/change-password', signInAgain, (_req, res) => {
    res.render(views.changePassword, { rules: passwordRules })
  })

  router.post('/change-password', signInAgain, async (req, res) => {
    const { account, sessionId } = req.signedIn!
    const current = field(req, 'currentPassword')
    const password = field(req, 'password')
    const problems = passwordProblems({
      password, confirmation: field(req, 'confirmPassword'), email: account.email,
      givenName: account.given_name, familyName: account.family_name
    })
    const errors = collect([
      ['currentPassword', current === '' ? accountMessages.currentMissing : undefined],
      // "Enter a password" would not say which of the three boxes is meant.
      ['password', problems.password && (problems.password === 'missing' ? accountMessages.newMissing : passwordMessages[problems.password])],
      ['confirmPassword', problems.confirmPassword && passwordMessages[problems.confirmPassword]]
    ])
    const shown = { rules: passwordRules }
    // The current password is checked only once the rest is right, so each check is one guess.
    if (hasErrors(errors)) return renderFormErrors(res, views.changePassword, errors, shown)

    const checked = await checkAccountPassword(context, account, req.ip, current, { locked: 'password-change-locked', failed: 'password-change-failed' }, accountMessages.currentWrong)
    if (!checked.ok) return renderFormErrors(res, views.changePassword, { currentPassword: checked.error }, shown, checked.status)
    await changePassword(context, account, password, { ip: req.ip ?? 'unknown' })
    // Whoever else is signed in (with the old password, perhaps) is signed out: here and in every service.
    const ended = await endSessions(context, account.id, { except: sessionId })
    context.log.info({ accountId: account.id, sessionsEnded: ended }, 'password changed; other sessions ended')
    req.session.set('account-banner', 'Your password has been changed. You have been signed out on every other device')
    res.redirect(303, '/account')
  })

  // Only ever takes access away, so it needs no recent sign-in: someone who fears their account is in use can always do it.
  router.post('/sign-out-everywhere', async (req, res) => {
    const { account } = req.signedIn!
    const now = context.clock.now()
    const ended = await endSessions(context, account.id)
    await recordAudit(context.db, { event: 'signed-out-everywhere', outcome: 'success', accountId: account.id, email: account.email, ip: req.ip, details: { sessions: ended } }, now)
    res.redirect(303, '/account/signed-out-everywhere')
  })

  return router
}
