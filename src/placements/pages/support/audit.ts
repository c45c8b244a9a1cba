import { Router } from 'express'
import { requireSignedIn, requireSupport } from '../../auth/principal.ts'
import type { PlacementsContext } from '../../context.ts'
import type { PlacementsAuditEvent } from '../../database/schema.ts'
import { pageCount, pagination, requestedPage, showing } from './paging.ts'
import { auditTrail, type AuditCursor, type AuditRow } from './queries.ts'

export const auditPageSize = 50

/** Support: who did what, newest first. */
export function supportAuditRoutes(context: PlacementsContext): Router {
  const router = Router()

  router.get('/support/audit', requireSignedIn, requireSupport, async (req, res, next) => {
    const paging = requestedPage(req.query.page, auditPageSize)
    const cursor = auditCursor(req.query)
    if (!paging || cursor === false) return next()
    const { rows, total, exact } = await auditTrail(context.db, paging.pageSize, paging.offset, cursor)
    const pages = pageCount(total, paging.pageSize)
    if (paging.page > pages || (paging.page > 1 && rows.length === 0)) return next()
    // Links to the pages either side carry the event they continue from (keyset, ADR 20); the first and last pages are read from their ends.
    const href = (page: number) => {
      if (page === 1) return '/support/audit'
      if (page === paging.page + 1 && rows.length > 0) return `/support/audit?page=${page}&before=${rows.at(-1)!.seq}`
      if (page === paging.page - 1 && rows.length > 0) return `/support/audit?page=${page}&after=${rows[0]!.seq}`
      return `/support/audit?page=${page}`
    }
    res.render('pages/support/audit.njk', {
      entries: rows.map(auditEntry),
      showing: showing(paging, rows.length, total, exact),
      pagination: pagination(paging.page, pages, href)
    })
  })

  return router
}

const seqShape = /^[1-9][0-9]{0,17}$/

/** `before` or `after` from the query string; false when either is malformed or both are given. */
function auditCursor(query: Record<string, unknown>): AuditCursor | undefined | false {
  const { before, after } = query
  if (before === undefined && after === undefined) return undefined
  if (before !== undefined && after !== undefined) return false
  const value = before ?? after
  if (typeof value !== 'string' || !seqShape.test(value)) return false
  return before !== undefined ? { before: value } : { after: value }
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
