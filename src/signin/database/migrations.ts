import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { feedbackMigration } from '../../platform/feedback.ts'
import { outboxLeaseMigration, outboxMigration } from '../../platform/mail/outbox.ts'
import { shortLivedMigration } from '../../platform/short-lived-store.ts'

/** Versioned, append-only: never edit one that has shipped; add the next. */
export const signinMigrations: Record<string, Migration> = {
  '0001-platform-outbox': outboxMigration,
  '0002-platform-short-lived': shortLivedMigration,
  '0003-accounts': {
    async up(db: Kysely<unknown>) {
      await sql`create table accounts (
        id uuid primary key default gen_random_uuid(),
        email text not null,
        email_normalised text not null unique,
        given_name text not null,
        family_name text not null,
        password_hash text not null,
        created_at timestamptz not null,
        password_changed_at timestamptz not null,
        last_signed_in_at timestamptz
      )`.execute(db)
      await sql`create table verification_codes (
        id uuid primary key default gen_random_uuid(),
        purpose text not null check (purpose in ('confirm-email', 'reset-password')),
        email_normalised text not null,
        code_hash text not null,
        created_at timestamptz not null,
        expires_at timestamptz not null,
        wrong_attempts integer not null default 0,
        closed_at timestamptz
      )`.execute(db)
      await sql`create index verification_codes_by_email on verification_codes (email_normalised, purpose, created_at)`.execute(db)
    }
  },
  '0004-provider': {
    async up(db: Kysely<unknown>) {
      await sql`create table clients (
        client_id text primary key,
        name text not null,
        metadata jsonb not null,
        secret_hash text,
        created_at timestamptz not null,
        updated_at timestamptz not null
      )`.execute(db)
      await sql`create table signing_keys (
        kid text primary key,
        private_jwk jsonb not null,
        created_at timestamptz not null,
        retired_at timestamptz
      )`.execute(db)
      await sql`create table instance_secrets (
        name text primary key,
        value text not null,
        created_at timestamptz not null
      )`.execute(db)
      await sql`create table oidc_payloads (
        model text not null,
        id text not null,
        payload jsonb not null,
        grant_id text,
        user_code text,
        uid text,
        expires_at timestamptz,
        consumed_at timestamptz,
        primary key (model, id)
      )`.execute(db)
      await sql`create index oidc_payloads_grant on oidc_payloads (grant_id)`.execute(db)
      await sql`create index oidc_payloads_uid on oidc_payloads (uid)`.execute(db)
      await sql`create index oidc_payloads_user_code on oidc_payloads (user_code)`.execute(db)
      await sql`create index oidc_payloads_expires on oidc_payloads (expires_at)`.execute(db)
    }
  },
  '0005-audit': {
    async up(db: Kysely<unknown>) {
      await sql`create table audit_events (
        id uuid primary key default gen_random_uuid(),
        at timestamptz not null,
        event text not null,
        outcome text not null,
        account_id uuid,
        email text,
        client_id text,
        ip text,
        details jsonb not null default '{}'
      )`.execute(db)
      await sql`create index audit_events_at on audit_events (at desc)`.execute(db)
    }
  },
  '0006-platform-outbox-lease': outboxLeaseMigration,
  '0007-platform-feedback': feedbackMigration
}
