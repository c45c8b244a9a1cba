import { Router, type Request } from 'express'
import { sql, type Generated, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import type { Clock } from './clock.ts'
import type { ShortLivedStore } from './short-lived-store.ts'
import { controlCharactersExceptLineBreaks, field } from './validation.ts'
import { renderFormErrors, type FieldErrors } from './views.ts'

/**
 * The beta phase banner's feedback form (issue 8): "What were you trying to do?" and "How
 * did it go?". Each service keeps its own in its own database; no email address is asked
 * for, and no one is signed in to give it. Placements' support console lists it
 * (pages/support/feedback.ts); `npm run feedback` prints either service's.
 */
export interface FeedbackTable {
  feedback: {
    id: Generated<string>
    seq: Generated<string>
    at: Date
    trying_to_do: string
    how_it_went: string
  }
}

export const feedbackMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`create table feedback (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity,
      at timestamptz not null,
      trying_to_do text not null,
      how_it_went text not null
    )`.execute(db)
    await sql`create index feedback_seq on feedback (seq desc)`.execute(db)
  }
}

export const feedbackLimits = {
  characters: 1200,
  /** Per network (IP address), reserved atomically before anything is stored. */
  perHour: 10
}

const attemptRule = { limit: feedbackLimits.perHour, windowSeconds: 3600 }


const questions = {
  tryingToDo: { label: 'What were you trying to do?', missing: 'Enter what you were trying to do', name: 'What you were trying to do' },
  howItWent: { label: 'How did it go?', missing: 'Enter how it went', name: 'How it went' }
} as const

export function feedbackProblem(raw: string, question: keyof typeof questions): string | undefined {
  const text = raw.trim()
  const q = questions[question]
  if (text === '') return q.missing
  if ([...text].length > feedbackLimits.characters) return `${q.name} must be ${feedbackLimits.characters.toLocaleString('en-GB')} characters or fewer`
  // Tabs and line breaks are what people type in a box of text; every other control character is refused.
  if (controlCharactersExceptLineBreaks.test(text)) return `${q.name} must only include letters, numbers, punctuation, spaces and new lines`
  return undefined
}

export interface FeedbackEntry {
  seq: string
  at: Date
  tryingToDo: string
  howItWent: string
}

/** Newest first; `before` (a seq) gives the page after one that ended there. */
export async function recentFeedback<Schema extends FeedbackTable>(database: Kysely<Schema>, limit: number, before?: string): Promise<FeedbackEntry[]> {
  const db = database as unknown as Kysely<FeedbackTable>
  let query = db.selectFrom('feedback').select(['seq', 'at', 'trying_to_do', 'how_it_went']).orderBy('seq', 'desc').limit(limit)
  if (before !== undefined) query = query.where('seq', '<', before)
  const rows = await query.execute()
  return rows.map((row) => ({ seq: String(row.seq), at: new Date(row.at), tryingToDo: row.trying_to_do, howItWent: row.how_it_went }))
}

/**
 * GET and POST /feedback, then /feedback/sent. Mount after sessions and the CSRF check:
 * the form carries the token like every other.
 */
export function feedbackRoutes<Schema extends FeedbackTable>(options: { db: Kysely<Schema>, store: ShortLivedStore, clock: Clock }): Router {
  const db = options.db as unknown as Kysely<FeedbackTable>
  const router = Router()
  const view = 'service-pages/feedback.njk'

  router.get('/feedback', (_req, res) => res.render(view, { values: {} }))

  router.post('/feedback', async (req, res) => {
    const values = { tryingToDo: field(req, 'tryingToDo'), howItWent: field(req, 'howItWent') }
    const errors: FieldErrors = {}
    for (const question of ['tryingToDo', 'howItWent'] as const) {
      const problem = feedbackProblem(values[question], question)
      if (problem) errors[question] = problem
    }
    if (Object.keys(errors).length > 0) return renderFormErrors(res, view, errors, { values })
    const now = options.clock.now()
    const reservation = await options.store.reserveAttempt(`feedback:${network(req)}`, attemptRule, now)
    if (!reservation.allowed) {
      return renderFormErrors(res, view, { tryingToDo: 'You have sent a lot of feedback from your network. Wait 1 hour and try again' }, { values }, 429)
    }
    await db.insertInto('feedback').values({ at: now, trying_to_do: values.tryingToDo.trim(), how_it_went: values.howItWent.trim() }).execute()
    res.redirect(303, '/feedback/sent')
  })

  router.get('/feedback/sent', (_req, res) => res.render('service-pages/feedback-sent.njk'))
  return router
}

function network(req: Request): string {
  return (req.ip ?? 'unknown').replace(/^::ffff:/, '')
}
