import { sql, type Kysely } from 'kysely'
import type { PlacementsAuditEvent, PlacementsDatabase } from '../../database/schema.ts'
import { normaliseName, rarePieces, trigramCounts } from '../../domain/name-search.ts'
import type { Organisation, User } from '../../domain/users.ts'

/** The support console's reads, in one place. Its writes are the domain's actions. */
type Db = Kysely<PlacementsDatabase>

export interface PageOf<T> {
  rows: T[]
  total: number
}

/** For LIKE: containing `text` (already normalised) taken literally. */
function containing(text: string): string {
  return '%' + text.replace(/[\\%_]/g, (c) => '\\' + c) + '%'
}

/**
 * Which reference a search term could be, by its shape (the forms' own rules: URN 6
 * digits, UKPRN 8, provider code 3 letters and digits). A provider code is only taken
 * for one when it has a digit: three letters are far more often part of a name.
 */
function referenceShape(term: string): 'urn' | 'ukprn' | 'provider_code' | undefined {
  if (/^[0-9]{6}$/.test(term)) return 'urn'
  if (/^[0-9]{8}$/.test(term)) return 'ukprn'
  if (/^[0-9A-Za-z]{3}$/.test(term) && /[0-9]/.test(term)) return 'provider_code'
  return undefined
}

/**
 * Organisations by name, A to Z. A search term matches part of the name (any case) or
 * exactly a URN, UKPRN or provider code. A term shaped like a reference is looked up by
 * that reference first (one unique index): when an organisation has it, that organisation
 * is the answer; otherwise the term is searched as part of a name (ADR 20, ADR 25).
 */
export async function searchOrganisations(db: Db, term: string, limit: number, offset: number): Promise<PageOf<Organisation>> {
  const shape = referenceShape(term)
  if (shape) {
    // Unique references (provider codes compared in upper case, as the form stores them): at most one row, in practice.
    const reference = shape === 'provider_code' ? sql<string>`upper(provider_code)` : sql.ref<string>(shape)
    const found = await db.selectFrom('organisations').selectAll().where(reference, '=', term.toUpperCase()).orderBy(sql`lower(name)`).orderBy('id').execute()
    if (found.length > 0) return { rows: found.slice(offset, offset + limit), total: found.length }
  }
  if (term === '') {
    const everyone = db.selectFrom('organisations')
    const [rows, count] = await Promise.all([
      everyone.selectAll().orderBy(sql`lower(name)`).orderBy('id').limit(limit).offset(offset).execute(),
      everyone.select((eb) => eb.fn.countAll<string>().as('total')).executeTakeFirstOrThrow()
    ])
    return { rows, total: Number(count.total) }
  }
  // The matches are found once, through the indexes (materialized: otherwise the planner
  // may walk the name index from "a" filtering each row, 19,000 rows to reach "Oakwood"),
  // counted, and the page taken from them A to Z: one query (ADR 20).
  // Part of a name: the index is asked for the term's rare pieces, the rows it finds checked for the whole term.
  const normalised = normaliseName(term)
  const pieces = rarePieces(normalised, trigramCounts(db))
  const name = sql<string>`replace(lower(name), '’', '''')`
  // A reference of the term's shape was looked up above, and references have the forms'
  // shapes, so only one reference is left to ask beside the name: a provider code of three
  // letters (the forms allow it; a term of three letters is searched as a name first).
  const matching = db.selectFrom('organisations').where((eb) => eb.or([
    pieces.length === 0
      ? eb(name, 'like', containing(normalised))
      : eb.and([...pieces.map((piece) => eb(name, 'like', containing(piece))), eb(sql<number>`strpos(${name}, ${normalised})`, '>', 0)]),
    ...(/^[A-Za-z]{3}$/.test(term) ? [eb(sql<string>`upper(provider_code)`, '=', term.toUpperCase())] : [])
  ]))
  const rows = await db.with((cte) => cte('matches').materialized(), () => matching.selectAll())
    .selectFrom('matches').selectAll().select(sql<string>`count(*) over ()`.as('total'))
    .orderBy(sql`lower(name)`).orderBy('id').limit(limit).offset(offset).execute()
  if (rows.length > 0 || offset === 0) return { rows: rows.map(({ total: _, ...organisation }) => organisation), total: Number(rows[0]?.total ?? 0) }
  // Past the last page no row carries the total, so count them (a page that does not exist: rare).
  const count = await matching.select((eb) => eb.fn.countAll<string>().as('total')).executeTakeFirstOrThrow()
  return { rows: [], total: Number(count.total) }
}

/** The first of a new organisation's references that another organisation already has. */
export async function identifierInUse(db: Db, answers: { urn?: string | undefined, ukprn?: string | undefined, providerCode?: string | undefined }): Promise<'urn' | 'ukprn' | 'providerCode' | undefined> {
  const checks = [['urn', 'urn', answers.urn], ['ukprn', 'ukprn', answers.ukprn], ['providerCode', 'provider_code', answers.providerCode?.toUpperCase()]] as const
  for (const [field, column, value] of checks) {
    if (value && await db.selectFrom('organisations').select('id').where(column, '=', value).executeTakeFirst()) return field
  }
  return undefined
}

export async function supportUsers(db: Db): Promise<User[]> {
  return db.selectFrom('users').innerJoin('support_users', 'support_users.user_id', 'users.id')
    .selectAll('users').orderBy(sql`lower(users.family_name)`).orderBy(sql`lower(users.given_name)`).orderBy('users.id').execute()
}

export interface AuditRow {
  seq: string
  at: Date
  event: PlacementsAuditEvent
  outcome: 'success' | 'failure'
  actorGivenName: string | null
  actorFamilyName: string | null
  actorEmail: string | null
  subjectEmail: string | null
  organisationName: string | null
  details: Record<string, unknown>
}

/**
 * Below this many audit events the total is counted; above it, PostgreSQL's own estimate
 * (pg_class.reltuples, kept by ANALYZE and autovacuum) is shown as "about": counting ten
 * million rows takes a second or more on every page (docs/performance.md).
 */
export const exactAuditCountUpTo = 100_000

async function auditEventCount(db: Db): Promise<{ total: number, exact: boolean }> {
  const { rows: [estimate] } = await sql<{ n: string }>`select reltuples::bigint as n from pg_class where oid = 'audit_events'::regclass`.execute(db)
  const estimated = Number(estimate?.n ?? -1)
  if (estimated > exactAuditCountUpTo) return { total: estimated, exact: false }
  const count = await db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string>().as('total')).executeTakeFirstOrThrow()
  return { total: Number(count.total), exact: true }
}

/** A keyset cursor: the page just older than event `before`, or just newer than event `after` (ADR 20). */
export type AuditCursor = { before: string } | { after: string }

/**
 * The audit trail, newest first: `seq` is the order events were written in (unique, so
 * events that share a timestamp still have one order). With a cursor, the page next to
 * one already shown is read from the index by `seq` (keyset): the same cost on any page.
 * Without one, a page in the older half is read from the oldest end (`seq` ascending,
 * then reversed), so the last page costs what the first does; a middle page typed by
 * number costs its offset. With an exact total the pages are the same either way.
 */
export async function auditTrail(db: Db, limit: number, offset: number, cursor?: AuditCursor): Promise<PageOf<AuditRow> & { exact: boolean }> {
  const { total, exact } = await auditEventCount(db)
  const query = db.selectFrom('audit_events as e')
    .leftJoin('users as actor', 'actor.id', 'e.actor_user_id')
    .leftJoin('users as subject', 'subject.id', 'e.subject_user_id')
    .leftJoin('organisations as o', 'o.id', 'e.organisation_id')
    .select((eb) => [
      'e.seq', 'e.at', 'e.event', 'e.outcome', 'e.details',
      'actor.given_name as actorGivenName', 'actor.family_name as actorFamilyName', 'actor.email as actorEmail',
      eb.fn.coalesce('e.email', 'subject.email').as('subjectEmail'),
      'o.name as organisationName'
    ])
  if (cursor && 'before' in cursor) return { rows: await query.where('e.seq', '<', cursor.before).orderBy('e.seq', 'desc').limit(limit).execute(), total, exact }
  if (cursor) return { rows: (await query.where('e.seq', '>', cursor.after).orderBy('e.seq', 'asc').limit(limit).execute()).reverse(), total, exact }
  if (offset <= total / 2) return { rows: await query.orderBy('e.seq', 'desc').limit(limit).offset(offset).execute(), total, exact }
  // Events after this page (older ones), and how many of this page exist (the last may be short).
  const older = Math.max(0, total - offset - limit)
  const take = Math.max(0, Math.min(limit, total - offset))
  const rows = await query.orderBy('e.seq', 'asc').limit(take).offset(older).execute()
  return { rows: rows.reverse(), total, exact }
}
