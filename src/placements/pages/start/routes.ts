import { Router } from 'express'
import { demoPassword, demoPersonas } from '../../../demo/personas.ts'
import type { PlacementsContext } from '../../context.ts'
import { hasAnyAccess } from '../../domain/policies.ts'

/** The start page and the no-access page: the two pages for people not (yet) let in. */
export function startRoutes(context: PlacementsContext): Router {
  const router = Router()
  const development = context.config.environment !== 'production'

  router.get('/', (req, res) => {
    if (req.principal && hasAnyAccess(req.principal)) {
      const current = req.session.get<string>('organisationId')
      if (req.principal.isSupport && !current) return res.redirect(303, '/support/organisations')
      return res.redirect(303, current ? `/organisations/${current}` : '/organisations')
    }
    res.render('pages/start/start.njk', development
      ? { demoPersonas: demoPersonas.map((p) => [{ text: p.role }, { text: p.email }]), demoPassword }
      : {})
  })

  router.get('/no-access', (req, res) => {
    if (req.principal && hasAnyAccess(req.principal)) return res.redirect(303, '/')
    const email = req.principal?.user.email ?? req.session.get<string>('noAccessEmail')
    res.render('pages/start/no-access.njk', { email, unverified: req.session.get<boolean>('noAccessUnverified') === true })
  })

  return router
}
