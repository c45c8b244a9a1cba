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
  '0007-platform-feedback': feedbackMigration,
  '0008-second-factors': {
    async up(db: Kysely<unknown>) {
      // Emailed sign-in codes use the same table and rules as the other codes. A code
      // that was used counts no more against the hourly limit: the limit is there to stop
      // floods of codes and guesses, not people signing in several times an hour.
      await sql`alter table verification_codes drop constraint verification_codes_purpose_check`.execute(db)
      await sql`alter table verification_codes add constraint verification_codes_purpose_check
        check (purpose in ('confirm-email', 'reset-password', 'sign-in'))`.execute(db)
      await sql`alter table verification_codes add column used_at timestamptz`.execute(db)
      // One row per factor an account has besides its password and its email address
      // (every account has those two, so they have no row). A factor is usable once
      // confirmed (set-up finished). Kind-specific state lives in typed columns:
      // an authenticator app's encrypted secret and the last time step it accepted (so a
      // code is accepted once); a passkey (later) fits as kind 'passkey' with its
      // credential id (unique across accounts), public key and signature counter.
      await sql`create table account_factors (
        id uuid primary key default gen_random_uuid(),
        account_id uuid not null references accounts (id) on delete cascade,
        kind text not null check (kind in ('authenticator-app', 'passkey')),
        label text not null,
        secret_encrypted text,
        last_used_step bigint,
        credential_id text unique,
        public_key text,
        sign_count bigint,
        created_at timestamptz not null,
        confirmed_at timestamptz,
        last_used_at timestamptz
      )`.execute(db)
      await sql`create index account_factors_by_account on account_factors (account_id)`.execute(db)
      // Recovery codes: 10 at a time, stored hashed, each used once.
      await sql`create table recovery_codes (
        id uuid primary key default gen_random_uuid(),
        account_id uuid not null references accounts (id) on delete cascade,
        code_hash text not null,
        created_at timestamptz not null,
        used_at timestamptz
      )`.execute(db)
      await sql`create index recovery_codes_by_account on recovery_codes (account_id)`.execute(db)
    }
  },
  '0009-sessions-by-account': {
    async up(db: Kysely<unknown>) {
      // "Your account" signs out an account's other sessions (ADR 11): found by account.
      await sql`create index oidc_payloads_session_account on oidc_payloads ((payload->>'accountId')) where model = 'Session'`.execute(db)
    }
  },
  '0010-change-email-codes': {
    async up(db: Kysely<unknown>) {
      // "Your account" can change the email address: a code goes to the new address first,
      // under the same rules as every other code. One account per address still holds
      // through accounts.email_normalised's unique index (0003).
      await sql`alter table verification_codes drop constraint verification_codes_purpose_check`.execute(db)
      await sql`alter table verification_codes add constraint verification_codes_purpose_check
        check (purpose in ('confirm-email', 'reset-password', 'sign-in', 'change-email'))`.execute(db)
    }
  }
}
