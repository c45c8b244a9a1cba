import { Router, type Request, type Response } from 'express'
import { queueEmail } from '../../platform/mail/outbox.ts'
import { renderFormErrors } from '../../platform/views.ts'
import { field } from '../../platform/validation.ts'
import { appSecretOf, beginAppSetUp, checkAppCode, confirmApp, groupedSecret, setUpDetails } from '../accounts/authenticator-app.ts'
import { secondFactorsOf } from '../accounts/factors.ts'
import { replaceRecoveryCodes } from '../accounts/recovery-codes.ts'
import { recordAudit } from '../audit.ts'
import type { SigninContext } from '../context.ts'
import { secondFactorChanged } from '../emails.ts'
import { codeInputProblem } from '../journeys/steps/code-step.ts'
import { appMessages } from '../journeys/second-factor/checks.ts'
import { requireRecentSignInWithApp } from './sign-in-again.ts'

/**
 * Managing second factors from "Your account" (docs/journeys.md, docs/security.md "your
 * account"): set up or replace the authenticator app (the new one is confirmed with its
 * code before the old one goes), remove it, or get new recovery codes (shown once; the
 * old ones stop at once). Each needs a recent sign-in, with the app or a recovery code
 * when the account has an app; each is audited and told to the account's address.
 */
const views = {
  setUp: 'your-account/authenticator-app.njk',
  remove: 'your-account/remove-authenticator-app.njk',
  newCodes: 'your-account/new-recovery-codes.njk',
  codes: 'your-account/recovery-codes.njk'
}

interface AppSetUp { sessionId: string, factorId: string }
interface NewCodes { sessionId: string, codes: string[], banner: string }
const setUpKey = 'account-app-set-up'
const codesKey = 'account-new-recovery-codes'

export function manageFactorRoutes(context: SigninContext): Router {
  const router = Router()
  const c = { signinName: context.config.serviceName }
  const strong = requireRecentSignInWithApp(context)
  const hasApp = async (req: Request) => (await secondFactorsOf(context.db, req.signedIn!.account.id)).includes('authenticator-app')

  async function renderSetUp(req: Request, res: Response, errors?: Record<string, string>, status = 400) {
    const { account, sessionId } = req.signedIn!
    const stored = req.session.get<AppSetUp>(setUpKey)
    let factorId = stored?.sessionId === sessionId ? stored.factorId : undefined
    let secret = factorId ? await appSecretOf(context.db, factorId, context.codeKey) : undefined
    if (!factorId || !secret) {
      ({ factorId, secret } = await beginAppSetUp(context.db, account.id, context.codeKey, context.clock.now()))
      req.session.set(setUpKey, { sessionId, factorId } satisfies AppSetUp)
    }
    const details = await setUpDetails(secret, account.email)
    const page = { qrDataUrl: details.qrDataUrl, secretGroups: groupedSecret(secret), email: account.email, replacing: await hasApp(req) }
    if (errors) return renderFormErrors(res, views.setUp, errors, { ...page, values: { code: field(req, 'code').slice(0, 50) } }, status)
    res.render(views.setUp, page)
  }

  router.get('/authenticator-app', strong, (req, res) => renderSetUp(req, res))

  router.post('/authenticator-app', strong, async (req, res) => {
    const { account, sessionId } = req.signedIn!
    const stored = req.session.get<AppSetUp>(setUpKey)
    const factorId = stored?.sessionId === sessionId ? stored.factorId : undefined
    const input = codeInputProblem(field(req, 'code'))
    if (input.problem || !factorId) return renderSetUp(req, res, { code: input.problem ?? appMessages.incorrect })
    const now = context.clock.now()
    const checked = await checkAppCode(context.db, context.store, context.codeKey, { accountId: account.id, factorId }, input.code!, now)
    if (checked.result === 'locked') return renderSetUp(req, res, { code: appMessages.locked(checked.retryAfterMinutes) }, 429)
    if (checked.result !== 'correct') return renderSetUp(req, res, { code: appMessages[checked.result] })
    const replacing = await hasApp(req)
    const audit = { accountId: account.id, email: account.email, ip: req.ip }
    const codes = await context.db.transaction().execute(async (trx) => {
      // Only now, with the new app's code proven, does the old app stop working.
      await confirmApp(trx, account.id, factorId, now)
      await recordAudit(trx, { ...audit, event: replacing ? 'authenticator-app-replaced' : 'authenticator-app-added', outcome: 'success', details: { from: 'your-account' } }, now)
      const made = await replaceRecoveryCodes(trx, account.id, context.codeKey, now)
      await recordAudit(trx, { ...audit, event: 'recovery-codes-created', outcome: 'success' }, now)
      await queueEmail(trx, secondFactorChanged(account.email, replacing
        ? `The authenticator app for your ${c.signinName} account was replaced with a new one. Your old app and recovery codes no longer work.`
        : `An authenticator app was added to your ${c.signinName} account, with 10 recovery codes.`, c), now)
      return made
    })
    req.session.unset(setUpKey)
    req.session.set(codesKey, { sessionId, codes, banner: replacing ? 'Your authenticator app has been replaced' : 'Your authenticator app has been set up' } satisfies NewCodes)
    res.redirect(303, '/account/recovery-codes/new')
  })

  router.get('/authenticator-app/remove', strong, async (req, res) => {
    if (!await hasApp(req)) return res.redirect(303, '/account')
    res.render(views.remove)
  })

  router.post('/authenticator-app/remove', strong, async (req, res) => {
    const { account } = req.signedIn!
    if (!await hasApp(req)) return res.redirect(303, '/account')
    const now = context.clock.now()
    const audit = { accountId: account.id, email: account.email, ip: req.ip }
    await context.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('account_factors').where('account_id', '=', account.id).where('kind', '=', 'authenticator-app').execute()
      // Recovery codes stand in for an app or passkey: with neither left, they go too.
      const left = await trx.selectFrom('account_factors').select('id').where('account_id', '=', account.id).where('confirmed_at', 'is not', null).limit(1).executeTakeFirst()
      if (!left) await trx.deleteFrom('recovery_codes').where('account_id', '=', account.id).execute()
      await recordAudit(trx, { ...audit, event: 'authenticator-app-removed', outcome: 'success', details: { recoveryCodesRemoved: !left } }, now)
      await queueEmail(trx, secondFactorChanged(account.email, `The authenticator app was removed from your ${c.signinName} account. You'll now get a code by email when you sign in.`, c), now)
    })
    req.session.set('account-banner', 'Your authenticator app has been removed. You will get a code by email when you sign in')
    res.redirect(303, '/account')
  })

  router.get('/recovery-codes', strong, async (req, res) => {
    if (!await hasApp(req)) return res.redirect(303, '/account')
    res.render(views.codes)
  })

  router.post('/recovery-codes', strong, async (req, res) => {
    const { account, sessionId } = req.signedIn!
    if (!await hasApp(req)) return res.redirect(303, '/account')
    const now = context.clock.now()
    const codes = await context.db.transaction().execute(async (trx) => {
      // One transaction: the old codes stop working the moment the new ones exist.
      const made = await replaceRecoveryCodes(trx, account.id, context.codeKey, now)
      await recordAudit(trx, { accountId: account.id, email: account.email, ip: req.ip, event: 'recovery-codes-replaced', outcome: 'success' }, now)
      await queueEmail(trx, secondFactorChanged(account.email, `You have 10 new recovery codes for your ${c.signinName} account. Your old recovery codes no longer work.`, c), now)
      return made
    })
    req.session.set(codesKey, { sessionId, codes, banner: 'You have new recovery codes. Your old ones no longer work' } satisfies NewCodes)
    res.redirect(303, '/account/recovery-codes/new')
  })

  // Shown once: the codes leave the session when the person says they have saved them.
  const newCodesOf = (req: Request) => {
    const stored = req.session.get<NewCodes>(codesKey)
    return stored?.sessionId === req.signedIn!.sessionId ? stored : undefined
  }
  router.get('/recovery-codes/new', (req, res) => {
    const stored = newCodesOf(req)
    if (!stored) return res.redirect(303, '/account')
    res.render(views.newCodes, { codes: stored.codes })
  })
  router.post('/recovery-codes/new', (req, res) => {
    const stored = newCodesOf(req)
    req.session.unset(codesKey)
    if (stored) req.session.set('account-banner', stored.banner)
    res.redirect(303, '/account')
  })

  return router
}
