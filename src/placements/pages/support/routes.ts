import { Router } from 'express'
import type { PlacementsContext } from '../../context.ts'

/** The support console (being built). */
export function supportRoutes(_context: PlacementsContext): Router {
  return Router()
}
