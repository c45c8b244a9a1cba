import type { Kysely, Selectable, Transaction } from 'kysely'
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

export async function findUserById(db: Db, id: string): Promise<User | undefined> {
  if (!isId(id)) return undefined
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email_normalised', '=', normaliseEmail(email)).executeTakeFirst()
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

export async function membersOf(db: Db, organisationId: string): Promise<User[]> {
  return db.selectFrom('users').innerJoin('memberships', 'memberships.user_id', 'users.id')
    .selectAll('users').where('memberships.organisation_id', '=', organisationId)
    .orderBy('users.family_name').orderBy('users.given_name').execute()
}

export async function isMember(db: Db, userId: string, organisationId: string): Promise<boolean> {
  if (!isId(organisationId) || !isId(userId)) return false
  return (await db.selectFrom('memberships').select('user_id')
    .where('user_id', '=', userId).where('organisation_id', '=', organisationId).executeTakeFirst()) !== undefined
}

export function displayName(user: Pick<User, 'given_name' | 'family_name'>): string {
  return `${user.given_name} ${user.family_name}`
}
