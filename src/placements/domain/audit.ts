import type { PlacementsAuditEvent } from '../database/schema.ts'
import type { Db } from './users.ts'

/** Who did what, to whom, in which organisation, and how it ended. Never a token. */
export interface AuditEntry {
  event: PlacementsAuditEvent
  outcome?: 'success' | 'failure'
  actorUserId?: string | null | undefined
  subjectUserId?: string | null | undefined
  organisationId?: string | null | undefined
  email?: string | null | undefined
  details?: Record<string, string | number | boolean> | undefined
}

export async function recordAudit(db: Db, entry: AuditEntry, at: Date): Promise<void> {
  await db.insertInto('audit_events').values({
    at,
    event: entry.event,
    outcome: entry.outcome ?? 'success',
    actor_user_id: entry.actorUserId ?? null,
    subject_user_id: entry.subjectUserId ?? null,
    organisation_id: entry.organisationId ?? null,
    email: entry.email ?? null,
    details: JSON.stringify(entry.details ?? {}) as unknown as Record<string, unknown>
  }).execute()
}
