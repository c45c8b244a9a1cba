import { sql, type Generated, type Kysely, type Transaction } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * Every email is written to the outbox in the same transaction as the change that
 * causes it (docs/architecture.md, "Email"), so a change and its email stand or fall together.
 */
export interface OutboxTable {
  outbox: {
    id: Generated<string>
    /** Insertion order, for "newest first" when several emails share a timestamp. */
    seq: Generated<string>
    recipient: string
    subject: string
    body: string
    created_at: Date
    sent_at: Generated<Date | null>
    attempts: Generated<number>
    next_attempt_at: Date
    last_error: Generated<string | null>
    /** Set while a worker is sending it; a lapsed lease means the worker died and others may take it. */
    claimed_until: Generated<Date | null>
  }
}

export interface Email {
  to: string
  subject: string
  /** Plain text with absolute links; Notify renders it with its own layout. */
  body: string
}

export const outboxMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`create table outbox (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity,
      recipient text not null,
      subject text not null,
      body text not null,
      created_at timestamptz not null default now(),
      sent_at timestamptz,
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      last_error text
    )`.execute(db)
    await sql`create index outbox_pending on outbox (next_attempt_at) where sent_at is null`.execute(db)
  }
}

/** Lets several nodes share the outbox: each claims rows for a while before sending them. */
export const outboxLeaseMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`alter table outbox add column claimed_until timestamptz`.execute(db)
  }
}

export async function queueEmail<Schema extends OutboxTable>(db: Kysely<Schema> | Transaction<Schema>, email: Email, now: Date): Promise<void> {
  await (db as unknown as Kysely<OutboxTable>).insertInto('outbox').values({
    recipient: email.to, subject: email.subject, body: email.body, created_at: now, next_attempt_at: now
  }).execute()
}

export interface MailboxEntry {
  id: string
  to: string
  subject: string
  body: string
  createdAt: Date
  sentAt: Date | null
}

export async function recentEmails<Schema extends OutboxTable>(db: Kysely<Schema>, limit = 50): Promise<MailboxEntry[]> {
  const rows = await (db as unknown as Kysely<OutboxTable>).selectFrom('outbox')
    .select(['id', 'recipient', 'subject', 'body', 'created_at', 'sent_at'])
    .orderBy('seq', 'desc').limit(limit).execute()
  return rows.map((r) => ({ id: r.id, to: r.recipient, subject: r.subject, body: r.body, createdAt: r.created_at, sentAt: r.sent_at }))
}
