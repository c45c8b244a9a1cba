import type { Kysely } from 'kysely'
import { queueEmail } from '../../platform/mail/outbox.ts'
import type { OrganisationKind, PlacementsDatabase } from '../database/schema.ts'
import { recordAudit } from './audit.ts'
import { invitation, removal, supportInvitation, type PlacementsEmailContext } from './emails.ts'
import { findOrCreateUser, findOrganisation, findUserById, isId, normaliseEmail, type Organisation, type User } from './users.ts'

/**
 * The changes Placements makes, as verbs. Each is one transaction that also writes its
 * audit event and its email, so a change never happens without its record or its email.
 */
export interface ActionContext {
  db: Kysely<PlacementsDatabase>
  now: Date
  email: PlacementsEmailContext
}

export interface NewPerson {
  email: string
  givenName: string
  familyName: string
}

export type InviteResult = { outcome: 'invited' | 'membership-added', user: User } | { outcome: 'already-member', user: User } | { outcome: 'no-organisation' }

/** Adds a person to an organisation: a new user, or an existing one gaining a membership. */
export async function addUserToOrganisation(c: ActionContext, actorUserId: string, organisationId: string, person: NewPerson): Promise<InviteResult> {
  return c.db.transaction().execute(async (trx) => {
    const organisation = await findOrganisation(trx, organisationId)
    if (!organisation) return { outcome: 'no-organisation' }
    const { user, created } = await findOrCreateUser(trx, person, c.now)
    // Someone adding them at the same moment: the first membership stands, as if this were a moment later.
    const added = await trx.insertInto('memberships').values({ user_id: user.id, organisation_id: organisationId, created_at: c.now })
      .onConflict((oc) => oc.columns(['user_id', 'organisation_id']).doNothing()).returning('user_id').executeTakeFirst()
    if (!added) return { outcome: 'already-member', user }
    await recordAudit(trx, { event: created ? 'user-invited' : 'membership-added', actorUserId, subjectUserId: user.id, organisationId, email: user.email }, c.now)
    await queueEmail(trx, invitation({ email: user.email, givenName: user.given_name }, organisation.name, c.email), c.now)
    return { outcome: created ? 'invited' : 'membership-added', user }
  })
}

export type RemoveResult = 'removed' | 'cannot-remove-self' | 'not-a-member'

/** Removes a membership (never your own); the person is told by email. */
export async function removeMembership(c: ActionContext, actorUserId: string, organisationId: string, userId: string): Promise<RemoveResult> {
  if (actorUserId === userId) return 'cannot-remove-self'
  return c.db.transaction().execute(async (trx) => {
    const organisation = await findOrganisation(trx, organisationId)
    const user = await findUserById(trx, userId)
    if (!organisation || !user) return 'not-a-member'
    const deleted = await trx.deleteFrom('memberships').where('user_id', '=', userId).where('organisation_id', '=', organisationId).executeTakeFirst()
    if (Number(deleted.numDeletedRows) === 0) return 'not-a-member'
    await recordAudit(trx, { event: 'membership-removed', actorUserId, subjectUserId: userId, organisationId, email: user.email }, c.now)
    await queueEmail(trx, removal({ email: user.email, givenName: user.given_name }, organisation.name, c.email), c.now)
    return 'removed'
  })
}

export type AddSupportResult = 'added' | 'already-support' | 'not-department-address'

export function isDepartmentAddress(email: string, domain: string): boolean {
  return normaliseEmail(email).endsWith('@' + domain.toLowerCase())
}

export async function addSupportUser(c: ActionContext, actorUserId: string | null, person: NewPerson, domain: string): Promise<AddSupportResult> {
  if (!isDepartmentAddress(person.email, domain)) return 'not-department-address'
  return c.db.transaction().execute(async (trx) => {
    const { user } = await findOrCreateUser(trx, person, c.now)
    const inserted = await trx.insertInto('support_users').values({ user_id: user.id, created_at: c.now })
      .onConflict((oc) => oc.column('user_id').doNothing()).returning('user_id').executeTakeFirst()
    if (!inserted) return 'already-support'
    await recordAudit(trx, { event: 'support-user-added', actorUserId, subjectUserId: user.id, email: user.email }, c.now)
    await queueEmail(trx, supportInvitation({ email: user.email, givenName: user.given_name }, c.email), c.now)
    return 'added'
  })
}

export type RemoveSupportResult = 'removed' | 'cannot-remove-self' | 'not-support'

export async function removeSupportUser(c: ActionContext, actorUserId: string, userId: string): Promise<RemoveSupportResult> {
  if (actorUserId === userId) return 'cannot-remove-self'
  if (!isId(userId)) return 'not-support'
  return c.db.transaction().execute(async (trx) => {
    const deleted = await trx.deleteFrom('support_users').where('user_id', '=', userId).executeTakeFirst()
    if (Number(deleted.numDeletedRows) === 0) return 'not-support'
    const user = await findUserById(trx, userId)
    await recordAudit(trx, { event: 'support-user-removed', actorUserId, subjectUserId: userId, email: user?.email }, c.now)
    return 'removed'
  })
}

export interface NewOrganisation {
  kind: OrganisationKind
  name: string
  urn?: string | undefined
  ukprn?: string | undefined
  providerCode?: string | undefined
}

export type AddOrganisationResult = { outcome: 'added', organisation: Organisation } | { outcome: 'duplicate', field: 'urn' | 'ukprn' | 'providerCode' }

export async function addOrganisation(c: ActionContext, actorUserId: string | null, input: NewOrganisation): Promise<AddOrganisationResult> {
  const school = input.kind === 'school'
  const values = {
    kind: input.kind,
    name: input.name.trim(),
    urn: school ? input.urn?.trim() || null : null,
    ukprn: school ? null : input.ukprn?.trim() || null,
    provider_code: school ? null : input.providerCode?.trim().toUpperCase() || null
  }
  try {
    return await c.db.transaction().execute(async (trx) => {
      const clash = async (column: 'urn' | 'ukprn' | 'provider_code', value: string | null) =>
        value ? (await trx.selectFrom('organisations').select('id').where(column, '=', value).executeTakeFirst()) !== undefined : false
      if (await clash('urn', values.urn)) return { outcome: 'duplicate', field: 'urn' } as const
      if (await clash('ukprn', values.ukprn)) return { outcome: 'duplicate', field: 'ukprn' } as const
      if (await clash('provider_code', values.provider_code)) return { outcome: 'duplicate', field: 'providerCode' } as const
      const organisation = await trx.insertInto('organisations').values({ ...values, created_at: c.now }).returningAll().executeTakeFirstOrThrow()
      await recordAudit(trx, { event: 'organisation-added', actorUserId, organisationId: organisation.id, details: { name: organisation.name } }, c.now)
      return { outcome: 'added', organisation } as const
    })
  } catch (error) {
    // Two people adding the same organisation at once: the unique index decides, and the
    // loser is told it exists, as if they had been a moment later. The one place a unique
    // violation becomes "duplicate".
    const field = duplicateField(error)
    if (field) return { outcome: 'duplicate', field }
    throw error
  }
}

function duplicateField(error: unknown): 'urn' | 'ukprn' | 'providerCode' | undefined {
  const { code, constraint, message } = error as { code?: unknown, constraint?: unknown, message?: unknown }
  if (code !== '23505') return undefined
  const name = String(constraint ?? message)
  if (name.includes('_urn_')) return 'urn'
  if (name.includes('_ukprn_')) return 'ukprn'
  if (name.includes('_provider_code_')) return 'providerCode'
  return undefined
}
