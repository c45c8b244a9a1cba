import type { NextFunction, Request, Response } from 'express'
import type { PlacementsContext } from '../context.ts'
import { canUseSupportConsole, canViewOrganisation, hasAnyAccess, type Principal } from '../domain/policies.ts'
import { findPrincipal } from '../domain/users.ts'
import { acrMeets } from '../config.ts'
import { safeReturnPath } from './return-path.ts'

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal
  }
}

/** Loads who is signed in, afresh from the database on every request. */
export function loadPrincipal(context: PlacementsContext) {
  return async function loadPrincipalMiddleware(req: Request, res: Response, next: NextFunction) {
    const userId = req.session.get<string>('userId')
    if (userId) {
      const found = await findPrincipal(context.db, userId)
      if (found) {
        // Support powers need the stronger sign-in (OIDC_SUPPORT_REQUIRED_ACR): until then, none.
        const supportMet = acrMeets(req.session.get<string>('acr'), context.config.identityProvider.supportRequiredAcr)
        req.principal = { ...found, isSupport: found.isSupport && supportMet, supportNeedsStepUp: found.isSupport && !supportMet }
        res.locals.principal = req.principal
        res.locals.currentOrganisationId = req.session.get<string>('organisationId')
        res.locals.timeout = {
          idleSeconds: context.config.idleTimeoutSeconds,
          warningSeconds: context.config.warningSeconds,
          warningText: durationText(context.config.warningSeconds)
        }
      }
    }
    next()
  }
}

/** "2 minutes", "1 minute 30 seconds", "10 seconds": as the timeout warning's countdown says it. */
export function durationText(totalSeconds: number): string {
  const minutes = Math.floor(totalSeconds / 60)
  const seconds = totalSeconds % 60
  const parts = []
  if (minutes > 0) parts.push(`${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`)
  if (seconds > 0 || minutes === 0) parts.push(`${seconds} ${seconds === 1 ? 'second' : 'seconds'}`)
  return parts.join(' ')
}

/** Pages for signed-in people: others sign in first and come back here afterwards. */
export function requireSignedIn(req: Request, res: Response, next: NextFunction) {
  if (req.principal && hasAnyAccess(req.principal)) return next()
  // Signed in at the provider but with no access here: straight back to the page that
  // says so, not round the provider's sign-in again.
  if (req.principal || req.session.get('noAccessEmail') !== undefined) return res.redirect(303, '/no-access')
  if (req.session.ended === 'idle') return res.redirect(303, '/timed-out')
  const returnTo = req.method === 'GET' ? safeReturnPath(req.originalUrl) : undefined
  res.redirect(303, '/sign-in' + (returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''))
}

/** A support user who has not stepped up goes to the provider for the stronger sign-in, and comes back here. */
function stepUpForSupport(req: Request, res: Response): void {
  const returnTo = req.method === 'GET' ? safeReturnPath(req.originalUrl) : undefined
  res.redirect(303, '/sign-in?step_up=support' + (returnTo ? `&return_to=${encodeURIComponent(returnTo)}` : ''))
}

export function requireSupport(req: Request, res: Response, next: NextFunction) {
  if (req.principal && canUseSupportConsole(req.principal)) return next()
  if (req.principal?.supportNeedsStepUp) return stepUpForSupport(req, res)
  res.status(403).render('errors/forbidden-page.njk')
}

export function requireOrganisation(req: Request, res: Response, next: NextFunction) {
  const organisationId = String(req.params.organisationId ?? '')
  if (req.principal && canViewOrganisation(req.principal, organisationId)) return next()
  if (req.principal?.supportNeedsStepUp) return stepUpForSupport(req, res)
  res.status(404).render('errors/not-found.njk')
}
