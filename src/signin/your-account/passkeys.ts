import { Router, type NextFunction, type Request, type Response } from 'express'
import { renderFormErrors } from '../../platform/views.ts'
import { field } from '../../platform/validation.ts'
import { acrSatisfies, acrValues, secondFactorsOf } from '../accounts/factors.ts'
import { addPasskey, deletePasskey, signinRelyingParty } from '../accounts/passkey-actions.ts'
import { passkeyNameProblem, passkeysOf, registrationOptions } from '../accounts/passkeys.ts'
import { mayMakeChallenge } from '../accounts/passkey-challenge-limit.ts'
import type { SigninContext } from '../context.ts'
import { passkeyMessages } from '../journeys/passkeys/routes.ts'
import { inUkTime } from './activity.ts'
import { signedInAgainStrongly } from './sign-in-again.ts'

/**
 * Passkeys in Your account (ADR 12): the list (on the account page), add one, remove one.
 * Adding and removing need a recent sign-in, as every other change does; the first passkey
 * comes with 10 recovery codes, shown once. Mounted by routes.ts after "signed in".
 */
const views = {
  add: 'your-account/passkeys/add-passkey.njk',
  strongerSignIn: 'your-account/passkeys/stronger-sign-in.njk',
  recoveryCodes: 'your-account/passkeys/recovery-codes.njk',
  remove: 'your-account/passkeys/remove-passkey.njk'
}

export const addMessages = {
  missing: 'Your passkey was not created. Try again, or come back later',
  limit: 'You have tried to add a passkey too many times. Wait 5 minutes and try again'
}

const codesKey = 'account-new-recovery-codes'

/** A challenge made here may be answered only by this Sign-in session. */
const bindingOf = (req: Request) => `account:${req.signedIn!.account.id}:${req.signedIn!.sessionId}`

type Middleware = (req: Request, res: Response, next: NextFunction) => void

export function passkeyAccountRoutes(context: SigninContext, signInAgain: Middleware): Router {
  const router = Router()
  const who = (req: Request) => ({ accountId: req.signedIn!.account.id, email: req.signedIn!.account.email, ip: req.ip })

  // The account page lists the passkeys: its own handler renders them with the rest.
  router.get('/', async (req, res, next) => {
    const passkeys = await passkeysOf(context.db, req.signedIn!.account.id)
    res.locals.passkeys = passkeys.map((passkey) => ({
      ...passkey, added: inUkTime(passkey.addedAt), lastUsed: passkey.lastUsedAt ? inUkTime(passkey.lastUsedAt) : undefined
    }))
    next()
  })

  const addPage = (req: Request) => ({ values: { name: field(req, 'name').slice(0, 60) } })

  /**
   * As in a sign-in (ADR 12): once the account has a passkey or an app, adding another
   * needs a session that proved one of them. A password and a mailbox are never enough to
   * add a key of someone else's. Signing in again here with a passkey or the app counts.
   */
  async function mayAddHere(req: Request, res: Response, next: NextFunction) {
    if (acrSatisfies(req.signedIn!.acr, [acrValues.app]) || signedInAgainStrongly(context, req)) return next()
    const factors = await secondFactorsOf(context.db, req.signedIn!.account.id)
    if (!factors.includes('passkey') && !factors.includes('authenticator-app')) return next()
    res.status(403).render(views.strongerSignIn)
  }

  router.get('/passkeys/add', signInAgain, mayAddHere, (req, res) => res.render(views.add, addPage(req)))

  router.get('/passkeys/add/options', signInAgain, mayAddHere, async (req, res) => {
    if (!await mayMakeChallenge(context.store, bindingOf(req), req.ip, context.clock.now())) return res.status(429).json({ error: 'too-many-requests' })
    const { account } = req.signedIn!
    res.json(await registrationOptions(context.db, context.store, signinRelyingParty(context),
      { id: account.id, email: account.email, name: `${account.given_name} ${account.family_name}` }, bindingOf(req)))
  })

  router.post('/passkeys/add', signInAgain, mayAddHere, async (req, res) => {
    const name = field(req, 'name').trim()
    const nameProblem = passkeyNameProblem(name)
    if (nameProblem) return renderFormErrors(res, views.add, { name: nameProblem }, addPage(req))
    const added = await addPasskey(context, who(req), bindingOf(req), field(req, 'response'), name)
    if (!added.ok) {
      const message = added.reason === 'missing' || added.reason === 'limit' ? addMessages[added.reason] : passkeyMessages[added.reason]
      return renderFormErrors(res, views.add, { passkey: message }, addPage(req))
    }
    if (added.recoveryCodes) {
      req.session.set(codesKey, { name: added.name, codes: added.recoveryCodes })
      return res.redirect(303, '/account/passkeys/recovery-codes')
    }
    req.session.set('account-banner', `Passkey added: ${added.name}`)
    res.redirect(303, '/account')
  })

  // Shown once: read from the session and removed from it in the same request.
  router.get('/passkeys/recovery-codes', (req, res) => {
    const made = req.session.get<{ name: string, codes: string[] }>(codesKey)
    if (!made) return res.redirect(303, '/account')
    req.session.unset(codesKey)
    res.render(views.recoveryCodes, { banner: `Passkey added: ${made.name}`, codes: made.codes })
  })

  async function findOwn(req: Request) {
    return (await passkeysOf(context.db, req.signedIn!.account.id)).find((passkey) => passkey.id === String(req.params.id))
  }

  router.get('/passkeys/:id/remove', signInAgain, async (req, res) => {
    const passkey = await findOwn(req)
    if (!passkey) return res.status(404).render('errors/not-found.njk')
    res.render(views.remove, { passkey })
  })

  router.post('/passkeys/:id/remove', signInAgain, async (req, res) => {
    const removed = await deletePasskey(context, who(req), String(req.params.id))
    if (removed) req.session.set('account-banner', 'Passkey removed. It can no longer be used to sign in')
    res.redirect(303, '/account')
  })

  return router
}
