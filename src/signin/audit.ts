import type { Kysely, QueryCreator, Transaction, UpdateQueryBuilder } from 'kysely'
import type { SigninDatabase } from './database/schema.ts'
import { countAuditEvent } from './metrics.ts'

/**
 * The audit trail (docs/security.md, "audit"): what happened, to whom, from where, and the
 * outcome. Never a password, code, token or session id.
 */
export type AuditEventName =
  | 'sign-in' | 'sign-in-locked' | 'account-created' | 'account-creation-for-existing-email'
  | 'email-confirmed' | 'email-confirmation-failed' | 'code-sent' | 'code-limit-reached'
  | 'password-reset-requested' | 'password-reset-code-failed' | 'password-reset'
  | 'second-factor' | 'second-factor-locked' | 'authenticator-app-added' | 'recovery-codes-created'
  | 'name-changed' | 'password-changed' | 'password-change-failed' | 'password-change-locked' | 'signed-out-everywhere'
  // Your account: signing in again before a change, changing the email address, managing factors.
  | 're-authenticated' | 're-authentication-failed' | 're-authentication-locked'
  | 'email-change-requested' | 'email-change-to-existing-email' | 'email-change-code-failed' | 'email-change-refused' | 'email-changed'
  | 'authenticator-app-replaced' | 'authenticator-app-removed' | 'recovery-codes-replaced'
  // Passkeys (ADR 12).
  | 'passkey-added' | 'passkey-removed' | 'passkey-refused'

export interface AuditEvent {
  event: AuditEventName
  outcome: 'success' | 'failure'
  accountId?: string | null | undefined
  email?: string | null | undefined
  clientId?: string | null | undefined
  ip?: string | null | undefined
  details?: Record<string, string | number | boolean> | undefined
}

export async function recordAudit(db: Kysely<SigninDatabase> | Transaction<SigninDatabase>, event: AuditEvent, at: Date): Promise<void> {
  await db.insertInto('audit_events').values(auditRow(event, at)).execute()
  // The metrics of sign-ins, failures, lockouts and second factors come from here (metrics.ts).
  countAuditEvent(event)
}

/**
 * A change and its audit event in one statement (the change as a data-modifying `with`):
 * atomic without a transaction, and one round trip to the database instead of four.
 */
export async function recordAuditWithChange<Table extends keyof SigninDatabase>(db: Kysely<SigninDatabase>, change: (db: QueryCreator<SigninDatabase>) => UpdateQueryBuilder<SigninDatabase, Table, Table, { id: string }>, event: AuditEvent, at: Date): Promise<void> {
  await db.with('change', change).insertInto('audit_events').values(auditRow(event, at)).execute()
  countAuditEvent(event)
}

function auditRow(event: AuditEvent, at: Date) {
  return {
    at,
    event: event.event,
    outcome: event.outcome,
    account_id: event.accountId ?? null,
    email: event.email ?? null,
    client_id: event.clientId ?? null,
    ip: event.ip ?? null,
    details: JSON.stringify(event.details ?? {}) as unknown as Record<string, unknown>
  }
}
