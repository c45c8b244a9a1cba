import { type Kysely, type Selectable, type Transaction } from 'kysely'
import { jsonArrayFrom } from 'kysely/helpers/postgres'
import { compiledOnce } from '../../platform/compiled-queries.ts'
import type { PlacementsDatabase } from '../database/schema.ts'

/** The queries about users, organisations and memberships, in one place. */
export type Db = Kysely<PlacementsDatabase> | Transaction<PlacementsDatabase>
export type User = Selectable<PlacementsDatabase['users']>
export type Organisation = Selectable<PlacementsDatabase['organisations']>

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase()
}

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
export function isId(value: unknown): value is string {
  return typeof value === 'string' && uuidShape.test(value)
}
/** A stand-in id for a query compiled once. */
const anyId = '00000000-0000-0000-0000-000000000000'

export async function findUserById(db: Db, id: string): Promise<User | undefined> {
  if (!isId(id)) return undefined
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
}

/**
 * Who is signed in, with their organisations (by name) and whether they are a support
 * user: one query, read on every request (ADR 8), compiled once (ADR 22).
 */
export async function findPrincipal(db: Db, id: string): Promise<{ user: User, organisations: Organisation[], isSupport: boolean } | undefined> {
  if (!isId(id)) return undefined
  const [row] = await principalQuery(db, id)
  if (!row) return undefined
  const { is_support: isSupport, organisations, ...user } = row
  // JSON carries the timestamp as text: give it back its type.
  return { user, isSupport: isSupport === true, organisations: organisations.map((organisation) => ({ ...organisation, created_at: new Date(organisation.created_at) })) }
}

const principalQuery = compiledOnce((db: Db, id: string) => db.selectFrom('users').selectAll('users').select((eb) => [
  eb.exists(eb.selectFrom('support_users').select('support_users.user_id').whereRef('support_users.user_id', '=', 'users.id')).as('is_support'),
  jsonArrayFrom(eb.selectFrom('organisations').innerJoin('memberships', 'memberships.organisation_id', 'organisations.id')
    .selectAll('organisations').whereRef('memberships.user_id', '=', 'users.id').orderBy('organisations.name')).as('organisations')
]).where('users.id', '=', id), [anyId])

export async function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email_normalised', '=', normaliseEmail(email)).executeTakeFirst()
}

/**
 * The user with this address, made if there is none. Insert-if-absent, then read: two
 * requests inviting one new address at once (from any nodes) both end up with the one
 * user, because the second insert waits for the first to commit and then does nothing.
 */
export async function findOrCreateUser(db: Db, person: { email: string, givenName: string, familyName: string }, now: Date): Promise<{ user: User, created: boolean }> {
  const created = await db.insertInto('users').values({
    email: person.email.trim(), email_normalised: normaliseEmail(person.email), given_name: person.givenName.trim(),
    family_name: person.familyName.trim(), sign_in_sub: null, last_signed_in_at: null, created_at: now
  }).onConflict((oc) => oc.column('email_normalised').doNothing()).returningAll().executeTakeFirst()
  if (created) return { user: created, created: true }
  const existing = await findUserByEmail(db, person.email)
  if (!existing) throw new Error('A user with this address was there a moment ago and is not now')
  return { user: existing, created: false }
}

export async function findOrganisation(db: Db, id: string): Promise<Organisation | undefined> {
  if (!isId(id)) return undefined
  return db.selectFrom('organisations').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function organisationsOf(db: Db, userId: string): Promise<Organisation[]> {
  return db.selectFrom('organisations').innerJoin('memberships', 'memberships.organisation_id', 'organisations.id')
    .selectAll('organisations').where('memberships.user_id', '=', userId).orderBy('organisations.name').execute()
}

export async function isSupportUser(db: Db, userId: string): Promise<boolean> {
  return (await db.selectFrom('support_users').select('user_id').where('user_id', '=', userId).executeTakeFirst()) !== undefined
}

/** A member as their organisation's users page lists them. */
export type Member = Pick<User, 'id' | 'given_name' | 'family_name' | 'email'>

/**
 * An organisation's members, by family name then given name: one range of one index
 * (`memberships_listed`, migration 0009), already in the page's order, whose entries
 * carry the member's name and address (copied there by the database, ADR 28).
 */
export const membersOf: (db: Db, organisationId: string) => Promise<Member[]> = compiledOnce((db: Db, organisationId: string) => db.selectFrom('memberships')
  .select(['user_id as id', 'given_name', 'family_name', 'email']).where('organisation_id', '=', organisationId)
  .orderBy('family_name').orderBy('given_name'), [anyId])

export async function isMember(db: Db, userId: string, organisationId: string): Promise<boolean> {
  if (!isId(organisationId) || !isId(userId)) return false
  return (await db.selectFrom('memberships').select('user_id')
    .where('user_id', '=', userId).where('organisation_id', '=', organisationId).executeTakeFirst()) !== undefined
}

export function displayName(user: Pick<User, 'given_name' | 'family_name'>): string {
  return `${user.given_name} ${user.family_name}`
}
