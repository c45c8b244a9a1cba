import type { Generated } from 'kysely'
import type { FeedbackTable } from '../../platform/feedback.ts'
import type { OutboxTable } from '../../platform/mail/outbox.ts'
import type { ShortLivedTable } from '../../platform/short-lived-store.ts'

/** Placements' own database: who may get in, and to which organisations. */
export interface PlacementsDatabase extends OutboxTable, ShortLivedTable, FeedbackTable {
  organisations: {
    id: Generated<string>
    kind: OrganisationKind
    name: string
    /** Schools: unique reference number. */
    urn: string | null
    /** Teacher-training providers: UK provider reference number and provider code. */
    ukprn: string | null
    provider_code: string | null
    created_at: Date
  }
  users: {
    id: Generated<string>
    email: string
    email_normalised: string
    given_name: string
    family_name: string
    /** The identity provider's subject, bound at the first sign-in that matched by email. */
    sign_in_sub: string | null
    last_signed_in_at: Date | null
    created_at: Date
  }
  memberships: {
    user_id: string
    organisation_id: string
    created_at: Date
    /** The member's, copied by the database from `users` (migration 0009, ADR 28): never written by the services. */
    given_name: Generated<string>
    family_name: Generated<string>
    email: Generated<string>
  }
  support_users: {
    user_id: string
    created_at: Date
  }
  audit_events: {
    id: Generated<string>
    seq: Generated<string>
    at: Date
    event: PlacementsAuditEvent
    outcome: 'success' | 'failure'
    actor_user_id: string | null
    subject_user_id: string | null
    organisation_id: string | null
    /** Who the event is about, when no user record exists (a failed sign-in). */
    email: string | null
    details: Record<string, unknown>
  }
}

export type OrganisationKind = 'school' | 'provider'

export type PlacementsAuditEvent =
  | 'sign-in' | 'sign-in-no-access' | 'sign-out' | 'session-timed-out'
  | 'user-invited' | 'membership-added' | 'membership-removed'
  | 'support-user-added' | 'support-user-removed' | 'organisation-added'
  | 'email-updated-from-provider'
