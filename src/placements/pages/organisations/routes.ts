import { Router } from 'express'
import { renderFormErrors } from '../../../platform/views.ts'
import { requireOrganisation, requireSignedIn } from '../../auth/principal.ts'
import type { PlacementsContext } from '../../context.ts'
import { canRemoveMember } from '../../domain/policies.ts'
import { displayName, findOrganisation, membersOf, type Organisation } from '../../domain/users.ts'
import { takeBanner } from '../banner.ts'

/** Choosing an organisation, and an organisation's home page with its users. */
export function organisationRoutes(context: PlacementsContext): Router {
  const router = Router()

  router.get('/organisations', requireSignedIn, (req, res) => {
    const principal = req.principal!
    if (principal.organisations.length === 1 && !principal.isSupport) return res.redirect(303, `/organisations/${principal.organisations[0]!.id}`)
    if (principal.organisations.length === 0) return res.redirect(303, '/support/organisations')
    res.render('pages/organisations/choose.njk', { items: chooseItems(principal.organisations, req.session.get('organisationId')) })
  })

  router.post('/organisations', requireSignedIn, (req, res) => {
    const principal = req.principal!
    const chosen = (req.body as Record<string, unknown>).organisationId
    const organisation = principal.organisations.find((o) => o.id === chosen)
    if (!organisation) {
      return renderFormErrors(res, 'pages/organisations/choose.njk', { organisationId: 'Select the organisation you want to use' }, { items: chooseItems(principal.organisations, undefined) })
    }
    req.session.set('organisationId', organisation.id)
    res.redirect(303, `/organisations/${organisation.id}`)
  })

  router.get('/organisations/:organisationId', requireSignedIn, requireOrganisation, async (req, res) => {
    // A member's own organisation came with the principal, read on this request (ADR 8); only support users viewing another need it read.
    const organisationId = String(req.params.organisationId)
    const organisation = req.principal!.organisations.find((o) => o.id === organisationId) ?? (await findOrganisation(context.db, organisationId))!
    if (req.principal!.organisations.some((o) => o.id === organisation.id)) req.session.set('organisationId', organisation.id)
    const members = await membersOf(context.db, organisation.id)
    res.render('pages/organisations/organisation.njk', {
      organisation,
      // Support users come from the console's list: the way back up is a breadcrumb.
      breadcrumbs: req.principal!.isSupport,
      banner: takeBanner(req.session),
      members: members.map((member) => ({ id: member.id, name: displayName(member), email: member.email, removable: canRemoveMember(req.principal!, organisation.id, member.id) }))
    })
  })

  return router
}

function chooseItems(organisations: Organisation[], chosen: unknown) {
  return organisations.map((o) => ({
    value: o.id, text: o.name, checked: o.id === chosen,
    hint: { text: o.kind === 'school' ? `School, URN ${o.urn}` : `Teacher training provider, UKPRN ${o.ukprn}` }
  }))
}
