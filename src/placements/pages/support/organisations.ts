import { Router, type Request } from 'express'
import { renderFormErrors } from '../../../platform/views.ts'
import { controlCharacters, field } from '../../../platform/validation.ts'
import { requireSignedIn, requireSupport } from '../../auth/principal.ts'
import { actionContext, type PlacementsContext } from '../../context.ts'
import { addOrganisation, type NewOrganisation } from '../../domain/actions.ts'
import { setBanner, takeBanner } from '../banner.ts'
import { pageCount, pagination, requestedPage, showing } from './paging.ts'
import { identifierInUse, searchOrganisations } from './queries.ts'

const views = { details: 'pages/support/new-organisation.njk', check: 'pages/support/check-organisation.njk' }

/**
 * Adding an organisation: new ⇄ check → confirm → the list (banner). The answers live in
 * the session between the steps, holding only the references the chosen type has.
 */
const wizardKey = 'addOrganisation'

export const organisationsPageSize = 20
export const searchLimit = 100
const nameLimit = 200

/** Support: every organisation, searchable, and adding a new one. */
export function supportOrganisationRoutes(context: PlacementsContext): Router {
  const router = Router()

  router.get('/support/organisations', requireSignedIn, requireSupport, async (req, res, next) => {
    const q = searchTerm(req.query.q)
    const paging = requestedPage(req.query.page, organisationsPageSize)
    if (!paging) return next()
    const { rows, total } = await searchOrganisations(context.db, q, paging.pageSize, paging.offset)
    const pages = pageCount(total, paging.pageSize)
    if (paging.page > pages) return next()
    const href = (page: number) => {
      const search = new URLSearchParams({ ...(q ? { q } : {}), ...(page > 1 ? { page: String(page) } : {}) }).toString()
      return search ? `/support/organisations?${search}` : '/support/organisations'
    }
    res.render('pages/support/organisations.njk', {
      q,
      banner: takeBanner(req.session),
      organisations: rows,
      showing: showing(paging, rows.length, total),
      pagination: pagination(paging.page, pages, href)
    })
  })

  router.get('/support/organisations/new', requireSignedIn, requireSupport, (req, res) => {
    // Back from "Check your answers" (Change, or the back link): the answers given so far.
    res.render(views.details, { values: req.session.get<NewOrganisation>(wizardKey) ?? {} })
  })

  router.post('/support/organisations/new', requireSignedIn, requireSupport, async (req, res) => {
    const values = organisationForm(req)
    const errors = organisationProblems(values)
    if (Object.keys(errors).length > 0 || !values.kind) return renderFormErrors(res, views.details, errors, { values })
    const answers = chosenAnswers({ ...values, kind: values.kind })
    // Said now, by the field, rather than after "Check your answers"; the confirm step checks again.
    const clash = await identifierInUse(context.db, answers)
    if (clash) return renderFormErrors(res, views.details, { [clash]: duplicateMessages[clash] }, { values })
    req.session.set(wizardKey, answers)
    res.redirect(303, '/support/organisations/check')
  })

  router.get('/support/organisations/check', requireSignedIn, requireSupport, (req, res) => {
    const answers = req.session.get<NewOrganisation>(wizardKey)
    if (!answers) return res.redirect(303, '/support/organisations/new')
    res.render(views.check, { answers })
  })

  /** The one step that adds: a single POST, one transaction with its audit event (domain/actions.ts). */
  router.post('/support/organisations/check', requireSignedIn, requireSupport, async (req, res) => {
    const answers = req.session.get<NewOrganisation>(wizardKey)
    if (!answers) return res.redirect(303, '/support/organisations/new')
    const result = await addOrganisation(actionContext(context), req.principal!.user.id, answers)
    if (result.outcome === 'duplicate') {
      // Someone added it since the answers were checked: say so where the reference is.
      return renderFormErrors(res, views.details, { [result.field]: duplicateMessages[result.field] }, { values: answers })
    }
    req.session.unset(wizardKey)
    setBanner(req.session, `${result.organisation.name} has been added`)
    res.redirect(303, '/support/organisations')
  })

  return router
}

/**
 * One string, bounded, hidden characters as spaces (PostgreSQL refuses a NUL), trimmed;
 * anything else (repeated or nested parameters) is no search.
 */
function searchTerm(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, searchLimit).replace(hiddenCharacters, ' ').trim() : ''
}

export interface OrganisationForm {
  kind: 'school' | 'provider' | undefined
  name: string
  urn: string
  ukprn: string
  providerCode: string
}

function organisationForm(req: Request): OrganisationForm {
  const kind = field(req, 'kind')
  return {
    kind: kind === 'school' || kind === 'provider' ? kind : undefined,
    name: field(req, 'name').trim(),
    urn: field(req, 'urn').trim(),
    ukprn: field(req, 'ukprn').trim(),
    // Stored in capitals; compared in capitals, so "1bn" clashes with "1BN".
    providerCode: field(req, 'providerCode').trim().toUpperCase()
  }
}

/**
 * The answers to keep: only the references the chosen type has. Without JavaScript every
 * reference field is on the page, so a URN typed before choosing "Teacher training
 * provider" arrives too; it is dropped here, never checked, shown or stored.
 */
export function chosenAnswers(values: OrganisationForm & { kind: 'school' | 'provider' }): NewOrganisation {
  return values.kind === 'school'
    ? { kind: 'school', name: values.name, urn: values.urn }
    : { kind: 'provider', name: values.name, ukprn: values.ukprn, providerCode: values.providerCode }
}

const hiddenCharacter = controlCharacters
const hiddenCharacters = new RegExp(controlCharacters.source, 'g')

/** In the order the fields appear on the page; only the chosen kind's references are checked. */
export function organisationProblems(values: OrganisationForm): Record<string, string> {
  const errors: Record<string, string> = {}
  if (values.name === '') errors.name = "Enter the organisation's name"
  else if ([...values.name].length > nameLimit) errors.name = `Organisation name must be ${nameLimit} characters or fewer`
  else if (hiddenCharacter.test(values.name)) errors.name = 'Organisation name must not include line breaks or other hidden characters'
  if (!values.kind) errors.kind = 'Select the type of organisation'
  if (values.kind === 'school') {
    if (values.urn === '') errors.urn = 'Enter the URN'
    else if (!/^[0-9]{6}$/.test(values.urn)) errors.urn = 'Enter a URN in the correct format, like 123456'
  }
  if (values.kind === 'provider') {
    if (values.ukprn === '') errors.ukprn = 'Enter the UKPRN'
    else if (!/^1[0-9]{7}$/.test(values.ukprn)) errors.ukprn = 'Enter a UKPRN in the correct format, like 10012345'
    if (values.providerCode === '') errors.providerCode = 'Enter the provider code'
    else if (!/^[A-Z0-9]{3}$/.test(values.providerCode)) errors.providerCode = 'Enter a provider code in the correct format, like 1BN'
  }
  return errors
}

const duplicateMessages = {
  urn: 'An organisation with this URN already exists',
  ukprn: 'An organisation with this UKPRN already exists',
  providerCode: 'An organisation with this provider code already exists'
}
