import { Router } from 'express'
import { requireSignedIn, requireSupport } from '../../auth/principal.ts'
import type { PlacementsContext } from '../../context.ts'
import type { PlacementsAuditEvent } from '../../database/schema.ts'
import { pageCount, pagination, requestedPage, showing } from './paging.ts'
import { auditTrail, type AuditRow } from './queries.ts'

export const auditPageSize = 50

/** Support: who did what, newest first. */
export function supportAuditRoutes(context: PlacementsContext): Router {
  const router = Router()

  router.get('/support/audit', requireSignedIn, requireSupport, async (req, res, next) => {
    const paging = requestedPage(req.query.page, auditPageSize)
    if (!paging) return next()
    const { rows, total, exact } = await auditTrail(context.db, paging.pageSize, paging.offset)
    const pages = pageCount(total, paging.pageSize)
    if (paging.page > pages) return next()
    res.render('pages/support/audit.njk', {
      entries: rows.map(auditEntry),
      showing: showing(paging, rows.length, total, exact),
      pagination: pagination(paging.page, pages, (page) => page > 1 ? `/support/audit?page=${page}` : '/support/audit')
    })
  })

  return router
}

export const eventWording: Record<PlacementsAuditEvent, string> = {
  'sign-in': 'Signed in',
  'sign-in-no-access': 'Sign-in refused: no access',
  'sign-out': 'Signed out',
  'session-timed-out': 'Session ended',
  'user-invited': 'User added',
  'membership-added': 'Membership added',
  'membership-removed': 'User removed',
  'support-user-added': 'Support user added',
  'support-user-removed': 'Support user removed',
  'organisation-added': 'Organisation added',
  'email-updated-from-provider': 'Email address updated at sign-in'
}

/**
 * How each event ended. Most are something someone tried, which worked or was refused; a
 * session ending after inactivity is neither, so it says what happened ("Timed out").
 */
export function auditOutcome(row: Pick<AuditRow, 'event' | 'outcome'>): { text: string, classes: string } {
  if (row.event === 'session-timed-out') return { text: 'Timed out', classes: 'govuk-tag--grey' }
  return row.outcome === 'success' ? { text: 'Success', classes: 'govuk-tag--green' } : { text: 'Failed', classes: 'govuk-tag--red' }
}

/** One event as the page shows it; the markup is the template's. */
function auditEntry(row: AuditRow) {
  return {
    time: formatLondonTime(row.at),
    event: eventWording[row.event] ?? row.event,
    actorName: row.actorEmail ? `${row.actorGivenName} ${row.actorFamilyName}` : '',
    actorEmail: row.actorEmail ?? '',
    subjectEmail: row.subjectEmail ?? '',
    organisation: row.organisationName ?? (typeof row.details.name === 'string' ? row.details.name : ''),
    outcome: auditOutcome(row)
  }
}

const londonParts = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London', day: 'numeric', month: 'long', year: 'numeric', hour: 'numeric', minute: '2-digit', hour12: true
})

/** GOV.UK style, in UK time whatever the server's zone: "27 November 2026 at 3:04pm", "midday", "midnight". */
export function formatLondonTime(at: Date): string {
  const parts = Object.fromEntries(londonParts.formatToParts(at).map((part) => [part.type, part.value]))
  const period = String(parts.dayPeriod).toLowerCase().replace(/[^a-z]/g, '')
  const time = parts.hour === '12' && parts.minute === '00' ? (period === 'am' ? 'midnight' : 'midday') : `${parts.hour}:${parts.minute}${period}`
  return `${parts.day} ${parts.month} ${parts.year} at ${time}`
}
