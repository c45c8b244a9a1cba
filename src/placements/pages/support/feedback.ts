import { Router } from 'express'
import { recentFeedback } from '../../../platform/feedback.ts'
import { requireSignedIn, requireSupport } from '../../auth/principal.ts'
import type { PlacementsContext } from '../../context.ts'
import { formatLondonTime } from './audit.ts'

export const feedbackPageSize = 20

const seqShape = /^[1-9][0-9]{0,18}$/

/**
 * Support: what people said in the phase banner's feedback form, newest first, 20 at a
 * time (keyset: "Older feedback" carries the last one shown). Each is a summary card, so
 * long answers wrap on a phone instead of widening a table.
 */
export function supportFeedbackRoutes(context: PlacementsContext): Router {
  const router = Router()

  router.get('/support/feedback', requireSignedIn, requireSupport, async (req, res, next) => {
    const before = req.query.before
    if (before !== undefined && (typeof before !== 'string' || !seqShape.test(before))) return next()
    const rows = await recentFeedback(context.db, feedbackPageSize + 1, before)
    const page = rows.slice(0, feedbackPageSize)
    if (before !== undefined && page.length === 0) return next()
    res.render('pages/support/feedback.njk', {
      entries: page.map((entry) => ({
        card: { title: { text: formatLondonTime(entry.at), headingLevel: 2 } },
        rows: [
          { key: { text: 'Trying to do' }, value: { text: entry.tryingToDo, classes: 'app-feedback-text' } },
          { key: { text: 'How it went' }, value: { text: entry.howItWent, classes: 'app-feedback-text' } }
        ]
      })),
      older: rows.length > feedbackPageSize ? `/support/feedback?before=${page.at(-1)!.seq}` : undefined,
      newest: before !== undefined ? '/support/feedback' : undefined
    })
  })

  return router
}
