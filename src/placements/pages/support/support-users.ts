import { Router, type Request, type Response } from 'express'
import { renderFormErrors } from '../../../platform/views.ts'
import { collect, emailProblem, field, hasErrors, nameProblem } from '../../../platform/validation.ts'
import { requireSignedIn, requireSupport } from '../../auth/principal.ts'
import { actionContext, type PlacementsContext } from '../../context.ts'
import { addSupportUser, isDepartmentAddress, removeSupportUser } from '../../domain/actions.ts'
import { displayName, findUserById, isId, isSupportUser, type User } from '../../domain/users.ts'
import { setBanner, takeBanner } from '../banner.ts'
import { supportUsers } from './queries.ts'

/** Support: who the support users are, adding one, and removing one (never yourself). */
export function supportUserRoutes(context: PlacementsContext): Router {
  const router = Router()
  const domain = context.config.supportEmailDomain

  router.get('/support/support-users', requireSignedIn, requireSupport, async (req, res) => {
    const users = await supportUsers(context.db)
    res.render('pages/support/support-users.njk', {
      banner: takeBanner(req.session),
      users: users.map((user) => ({ id: user.id, name: displayName(user), email: user.email, you: user.id === req.principal!.user.id }))
    })
  })

  router.get('/support/support-users/new', requireSignedIn, requireSupport, (_req, res) => {
    res.render('pages/support/new-support-user.njk', { values: {}, domain })
  })

  router.post('/support/support-users/new', requireSignedIn, requireSupport, async (req, res) => {
    const values = { givenName: field(req, 'givenName').trim(), familyName: field(req, 'familyName').trim(), email: field(req, 'email').trim() }
    const errors = collect([
      ['givenName', nameProblem(values.givenName, 'First name', 'their')],
      ['familyName', nameProblem(values.familyName, 'Last name', 'their')],
      ['email', emailProblem(values.email, 'their') ?? (isDepartmentAddress(values.email, domain) ? undefined : `Enter an email address ending in @${domain}`)]
    ])
    if (hasErrors(errors)) return renderFormErrors(res, 'pages/support/new-support-user.njk', errors, { values, domain })
    const result = await addSupportUser(actionContext(context), req.principal!.user.id, values, domain)
    if (result === 'not-department-address') {
      return renderFormErrors(res, 'pages/support/new-support-user.njk', { email: `Enter an email address ending in @${domain}` }, { values, domain })
    }
    if (result === 'already-support') {
      return renderFormErrors(res, 'pages/support/new-support-user.njk', { email: `${values.email} is already a support user` }, { values, domain })
    }
    setBanner(req.session, `${values.givenName} ${values.familyName} has been added as a support user. We've sent them an email.`)
    res.redirect(303, '/support/support-users')
  })

  router.get('/support/support-users/:userId/remove', requireSignedIn, requireSupport, async (req, res, next) => {
    const user = await removableSupportUser(req)
    if (user === 'yourself') return cannotRemoveYourself(res)
    if (!user) return next()
    res.render('pages/support/remove-support-user.njk', { user, name: displayName(user) })
  })

  router.post('/support/support-users/:userId/remove', requireSignedIn, requireSupport, async (req, res, next) => {
    const user = await removableSupportUser(req)
    if (user === 'yourself') return cannotRemoveYourself(res)
    if (!user) return next()
    const result = await removeSupportUser(actionContext(context), req.principal!.user.id, user.id)
    if (result === 'cannot-remove-self') return cannotRemoveYourself(res)
    if (result === 'not-support') return next()
    setBanner(req.session, `${displayName(user)} has been removed as a support user`)
    res.redirect(303, '/support/support-users')
  })

  /** The support user named in the path, "yourself", or nothing (not a support user: not found). */
  async function removableSupportUser(req: Request): Promise<User | 'yourself' | undefined> {
    const userId = String(req.params.userId)
    if (!isId(userId)) return undefined
    const user = await findUserById(context.db, userId)
    if (!user || !await isSupportUser(context.db, user.id)) return undefined
    return user.id === req.principal!.user.id ? 'yourself' : user
  }

  return router
}

function cannotRemoveYourself(res: Response) {
  res.status(403).render('pages/support/cannot-remove-yourself.njk')
}
