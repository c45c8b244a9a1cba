import { Router, type Request, type Response } from 'express'
import { collect, emailProblem, field, hasErrors, nameProblem } from '../../../platform/validation.ts'
import { renderFormErrors, type FieldErrors } from '../../../platform/views.ts'
import { requireOrganisation, requireSignedIn } from '../../auth/principal.ts'
import { actionContext, type PlacementsContext } from '../../context.ts'
import { addUserToOrganisation, removeMembership, type NewPerson } from '../../domain/actions.ts'
import { canManageUsers, canRemoveMember } from '../../domain/policies.ts'
import { displayName, findOrganisation, findUserByEmail, findUserById, isMember, type Organisation, type User } from '../../domain/users.ts'
import { setBanner } from '../banner.ts'

/**
 * Adding and removing an organisation's users.
 *
 *   Add user:    users/new ⇄ users/check → confirm → organisation page (banner)
 *   Remove user: users/:userId/remove → confirm → organisation page (banner)
 *
 * The add journey's answers live in one wizard object in the session, one per
 * organisation, so two tabs adding users to two organisations never mix. The check
 * page is reachable only once the details are valid; the wizard ends on success.
 */
const views = {
  details: 'pages/users/new.njk',
  check: 'pages/users/check.njk',
  remove: 'pages/users/remove.njk',
  cannotRemoveYourself: 'pages/users/cannot-remove-yourself.njk'
}

type AddUserWizard = NewPerson

const wizardKey = (organisationId: string) => `addUser:${organisationId}`

export function userRoutes(context: PlacementsContext): Router {
  const router = Router()

  /** The organisation in the path, if this person may manage its users (404 otherwise, as for any page they cannot see). */
  async function organisationOf(req: Request, res: Response): Promise<Organisation | undefined> {
    const organisationId = String(req.params.organisationId)
    const organisation = canManageUsers(req.principal!, organisationId) ? await findOrganisation(context.db, organisationId) : undefined
    if (!organisation) res.status(404).render('errors/not-found.njk')
    return organisation
  }

  function renderDetails(res: Response, organisation: Organisation, values: Partial<AddUserWizard>, errors?: FieldErrors) {
    const page = { organisation, values, base: base(organisation) }
    if (errors) return renderFormErrors(res, views.details, errors, page)
    res.render(views.details, page)
  }

  async function alreadyMemberProblem(organisation: Organisation, email: string): Promise<string | undefined> {
    const existing = await findUserByEmail(context.db, email)
    return existing && await isMember(context.db, existing.id, organisation.id) ? alreadyMember(email, organisation) : undefined
  }

  router.get('/organisations/:organisationId/users/new', requireSignedIn, requireOrganisation, async (req, res) => {
    const organisation = await organisationOf(req, res)
    if (!organisation) return
    renderDetails(res, organisation, req.session.get<AddUserWizard>(wizardKey(organisation.id)) ?? {})
  })

  router.post('/organisations/:organisationId/users/new', requireSignedIn, requireOrganisation, async (req, res) => {
    const organisation = await organisationOf(req, res)
    if (!organisation) return
    const values: AddUserWizard = { givenName: field(req, 'givenName').trim(), familyName: field(req, 'familyName').trim(), email: field(req, 'email').trim() }
    const errors = collect([
      ['givenName', nameProblem(values.givenName, 'First name', 'their')],
      ['familyName', nameProblem(values.familyName, 'Last name', 'their')],
      ['email', emailProblem(values.email, 'their')]
    ])
    if (!errors.email) {
      const problem = await alreadyMemberProblem(organisation, values.email)
      if (problem) errors.email = problem
    }
    if (hasErrors(errors)) return renderDetails(res, organisation, values, errors)
    req.session.set(wizardKey(organisation.id), values)
    res.redirect(303, `${base(organisation)}/check`)
  })

  router.get('/organisations/:organisationId/users/check', requireSignedIn, requireOrganisation, async (req, res) => {
    const organisation = await organisationOf(req, res)
    if (!organisation) return
    const wizard = req.session.get<AddUserWizard>(wizardKey(organisation.id))
    if (!wizard) return res.redirect(303, `${base(organisation)}/new`)
    res.render(views.check, { organisation, base: base(organisation), rows: checkRows(organisation, wizard) })
  })

  router.post('/organisations/:organisationId/users/check', requireSignedIn, requireOrganisation, async (req, res) => {
    const organisation = await organisationOf(req, res)
    if (!organisation) return
    const wizard = req.session.get<AddUserWizard>(wizardKey(organisation.id))
    if (!wizard) return res.redirect(303, `${base(organisation)}/new`)
    const result = await addUserToOrganisation(actionContext(context), req.principal!.user.id, organisation.id, wizard)
    if (result.outcome === 'no-organisation') return res.status(404).render('errors/not-found.njk')
    // Someone else added them since the details were checked: say so where the address is.
    if (result.outcome === 'already-member') return renderDetails(res, organisation, wizard, { email: alreadyMember(wizard.email, organisation) })
    req.session.unset(wizardKey(organisation.id))
    setBanner(req.session, result.outcome === 'invited'
      ? `${displayName(result.user)} has been added. We've sent them an email with a link to sign in.`
      : `${displayName(result.user)} has been added to ${organisation.name}. We've sent them an email to let them know.`)
    res.redirect(303, `/organisations/${organisation.id}`)
  })

  /** The member to remove, or a 404 for an unknown user or one not in this organisation. */
  async function memberToRemove(req: Request, res: Response): Promise<{ organisation: Organisation, member: User } | undefined> {
    const organisation = await organisationOf(req, res)
    if (!organisation) return undefined
    const member = await findUserById(context.db, String(req.params.userId))
    if (!member || !await isMember(context.db, member.id, organisation.id)) {
      res.status(404).render('errors/not-found.njk')
      return undefined
    }
    if (!canRemoveMember(req.principal!, organisation.id, member.id)) {
      res.status(403).render(views.cannotRemoveYourself, { organisation })
      return undefined
    }
    return { organisation, member }
  }

  router.get('/organisations/:organisationId/users/:userId/remove', requireSignedIn, requireOrganisation, async (req, res) => {
    const found = await memberToRemove(req, res)
    if (!found) return
    res.render(views.remove, { organisation: found.organisation, member: found.member, name: displayName(found.member) })
  })

  router.post('/organisations/:organisationId/users/:userId/remove', requireSignedIn, requireOrganisation, async (req, res) => {
    const found = await memberToRemove(req, res)
    if (!found) return
    const { organisation, member } = found
    const result = await removeMembership(actionContext(context), req.principal!.user.id, organisation.id, member.id)
    if (result === 'cannot-remove-self') return res.status(403).render(views.cannotRemoveYourself, { organisation })
    // 'not-a-member': removed by someone else a moment ago; the outcome they wanted stands.
    setBanner(req.session, `${displayName(member)} has been removed`)
    res.redirect(303, `/organisations/${organisation.id}`)
  })

  return router
}

function base(organisation: Organisation): string {
  return `/organisations/${organisation.id}/users`
}

function alreadyMember(email: string, organisation: Organisation): string {
  return `${email} is already a user at ${organisation.name}`
}

function checkRows(organisation: Organisation, wizard: AddUserWizard) {
  const row = (label: string, value: string, fieldId: string, hidden: string) => ({
    key: { text: label },
    value: { text: value },
    actions: { items: [{ href: `${base(organisation)}/new#${fieldId}`, text: 'Change', visuallyHiddenText: hidden }] }
  })
  return [
    row('First name', wizard.givenName, 'givenName', 'first name'),
    row('Last name', wizard.familyName, 'familyName', 'last name'),
    row('Email address', wizard.email, 'email', 'email address')
  ]
}
