import { Router } from 'express'
import { requireSignedIn, requireSupport } from '../../auth/principal.ts'
import type { PlacementsContext } from '../../context.ts'
import { supportAuditRoutes } from './audit.ts'
import { supportFeedbackRoutes } from './feedback.ts'
import { supportOrganisationRoutes } from './organisations.ts'
import { supportUserRoutes } from './support-users.ts'

/**
 * The support console, for support users only (every route checks): organisations,
 * support users and the audit trail. An organisation's own users are managed from its
 * page (/organisations/:id), which support users can open for any organisation.
 */
export function supportRoutes(context: PlacementsContext): Router {
  const router = Router()
  // The console's front door (breadcrumbs link to it): its first page is the organisations.
  router.get('/support', requireSignedIn, requireSupport, (_req, res) => res.redirect(303, '/support/organisations'))
  router.use(supportOrganisationRoutes(context))
  router.use(supportUserRoutes(context))
  router.use(supportAuditRoutes(context))
  router.use(supportFeedbackRoutes(context))
  return router
}
