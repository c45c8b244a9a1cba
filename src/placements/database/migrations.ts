import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { feedbackMigration } from '../../platform/feedback.ts'
import { outboxLeaseMigration, outboxMigration } from '../../platform/mail/outbox.ts'
import { shortLivedMigration } from '../../platform/short-lived-store.ts'

/** Versioned, append-only: never edit one that has shipped; add the next. */
export const placementsMigrations: Record<string, Migration> = {
  '0001-platform-outbox': outboxMigration,
  '0002-platform-short-lived': shortLivedMigration,
  '0003-organisations-and-users': {
    async up(db: Kysely<unknown>) {
      await sql`create table organisations (
        id uuid primary key default gen_random_uuid(),
        kind text not null check (kind in ('school', 'provider')),
        name text not null,
        urn text unique,
        ukprn text unique,
        provider_code text unique,
        created_at timestamptz not null,
        check ((kind = 'school' and urn is not null) or (kind = 'provider' and ukprn is not null and provider_code is not null))
      )`.execute(db)
      await sql`create index organisations_name on organisations (lower(name))`.execute(db)
      await sql`create table users (
        id uuid primary key default gen_random_uuid(),
        email text not null,
        email_normalised text not null unique,
        given_name text not null,
        family_name text not null,
        sign_in_sub text unique,
        last_signed_in_at timestamptz,
        created_at timestamptz not null
      )`.execute(db)
      await sql`create table memberships (
        user_id uuid not null references users (id) on delete cascade,
        organisation_id uuid not null references organisations (id) on delete cascade,
        created_at timestamptz not null,
        primary key (user_id, organisation_id)
      )`.execute(db)
      await sql`create index memberships_organisation on memberships (organisation_id)`.execute(db)
      await sql`create table support_users (
        user_id uuid primary key references users (id) on delete cascade,
        created_at timestamptz not null
      )`.execute(db)
      await sql`create table audit_events (
        id uuid primary key default gen_random_uuid(),
        seq bigint generated always as identity,
        at timestamptz not null,
        event text not null,
        outcome text not null,
        actor_user_id uuid,
        subject_user_id uuid,
        organisation_id uuid,
        email text,
        details jsonb not null default '{}'
      )`.execute(db)
      await sql`create index audit_events_seq on audit_events (seq desc)`.execute(db)
    }
  },
  '0004-platform-outbox-lease': outboxLeaseMigration,
  '0005-platform-feedback': feedbackMigration,
  // Support search at the size of England (docs/performance.md): part of a name through a
  // trigram index on exactly the expression the search compares, and provider codes as
  // the search compares them (upper case). URN and UKPRN have their unique indexes.
  '0006-organisation-search-indexes': {
    async up(db: Kysely<unknown>) {
      await sql`create extension if not exists pg_trgm`.execute(db)
      await sql`create index organisations_name_trigram on organisations using gin ((replace(lower(name), '’', '''')) gin_trgm_ops)`.execute(db)
      await sql`create index organisations_provider_code_upper on organisations (upper(provider_code))`.execute(db)
    }
  },
  // Organisations are added a few a day but searched all day: GIN's "fast update" kept
  // new entries in a pending list that every search scanned in full (1,746 entries, 134
  // pages after a bulk load: 26 ms instead of 1 ms) until a vacuum merged it (ADR 20).
  '0007-organisation-trigram-without-pending-list': {
    async up(db: Kysely<unknown>) {
      await sql`alter index organisations_name_trigram set (fastupdate = off)`.execute(db)
      await sql`select gin_clean_pending_list('organisations_name_trigram')`.execute(db)
    }
  },
  // An organisation's users page from indexes alone (ADR 25): its memberships by
  // organisation with the user's id in the index, and each member's listed columns beside
  // the id. With 1,000,000 users the table is larger than PostgreSQL's buffers; reading
  // each member's row cost two scattered pages (index leaf and table) where this costs one.
  '0008-users-page-from-indexes': {
    async up(db: Kysely<unknown>) {
      await sql`create index memberships_organisation_user on memberships (organisation_id, user_id)`.execute(db)
      await sql`drop index memberships_organisation`.execute(db)
      await sql`create index users_listed on users (id) include (family_name, given_name, email)`.execute(db)
    }
  },
  // An organisation's users page from one range of one index (ADR 28): each membership
  // carries its member's name and email address, copied by the database itself, in an
  // index by organisation and in the page's order. Listing 33 members then reads a handful
  // of index pages, where looking each member up in a 1,000,000-user index read a hundred
  // and grew with the table. The copies cannot go stale: a new membership copies under a
  // share lock on the user's row, and a change of name or address updates every copy in
  // the same transaction.
  '0009-members-listed-from-memberships': {
    async up(db: Kysely<unknown>) {
      await sql`alter table memberships add column given_name text, add column family_name text, add column email text`.execute(db)
      await sql`update memberships set given_name = users.given_name, family_name = users.family_name, email = users.email
        from users where users.id = memberships.user_id`.execute(db)
      await sql`alter table memberships alter column given_name set not null, alter column family_name set not null, alter column email set not null`.execute(db)
      await sql`create function memberships_copy_member() returns trigger language plpgsql as $$
        begin
          -- For share: waits for a change of this user's name or address to commit, and
          -- holds it off until this membership commits, so that change sees it.
          select given_name, family_name, email into new.given_name, new.family_name, new.email
            from users where id = new.user_id for share;
          return new;
        end $$`.execute(db)
      await sql`create trigger memberships_copy_member before insert or update of user_id on memberships
        for each row execute function memberships_copy_member()`.execute(db)
      await sql`create function users_copy_to_memberships() returns trigger language plpgsql as $$
        begin
          update memberships set given_name = new.given_name, family_name = new.family_name, email = new.email
            where user_id = new.id;
          return null;
        end $$`.execute(db)
      await sql`create trigger users_copy_to_memberships after update of given_name, family_name, email on users
        for each row when (old.given_name is distinct from new.given_name or old.family_name is distinct from new.family_name or old.email is distinct from new.email)
        execute function users_copy_to_memberships()`.execute(db)
      await sql`create index memberships_listed on memberships (organisation_id, family_name, given_name) include (user_id, email)`.execute(db)
      await sql`drop index memberships_organisation_user`.execute(db)
      await sql`drop index users_listed`.execute(db)
    }
  }
}
