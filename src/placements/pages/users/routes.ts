import { Router } from 'express'
import type { PlacementsContext } from '../../context.ts'

/** Adding and removing an organisation's users (being built). */
export function userRoutes(_context: PlacementsContext): Router {
  return Router()
}
