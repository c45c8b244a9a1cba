import { randomBytes } from 'node:crypto'
import { insertAccount } from '../../src/signin/accounts/accounts.ts'
import { hashPassword } from '../../src/signin/accounts/passwords.ts'
import { demoPassword } from '../../src/demo/personas.ts'
import type { Organisation, User } from '../../src/placements/domain/users.ts'
import type { TestServices } from './placements.ts'

/**
 * Test data builders: each test makes the people and organisations it needs, with
 * names and addresses no other test uses, so tests can run in any order (and shuffled)
 * without touching the shared demo personas.
 *
 *   const { organisation, member } = await givenOrganisationWithMember(services)
 *   const page = await signInToPlacements(new HttpSession(), services.placements.url, member.email)
 */

/** A word no other builder call in this process returns: keeps names and addresses apart. */
export function uniqueWord(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
}

let passwordHash: Promise<string> | undefined
/** Every built account has the demo password; hashed once per process (Argon2id is slow on purpose). */
function demoPasswordHash(): Promise<string> {
  passwordHash ??= hashPassword(demoPassword)
  return passwordHash
}

export interface BuiltPerson {
  email: string
  givenName: string
  familyName: string
  /** The Placements user; undefined when built with `placementsUser: false`. */
  user?: User
  /** The Sign-in account's id (the `sub` Placements binds at the first sign-in). */
  accountId?: string
}

export interface PersonOptions {
  givenName?: string
  familyName?: string
  email?: string
  /** Organisations the person is a member of in Placements. */
  memberOf?: Organisation[]
  /** A Placements support user (needs a department address to be added through the console, not here). */
  support?: boolean
  /** Create the Placements user (default true). False: someone Placements has never heard of. */
  placementsUser?: boolean
  /** Create a Sign-in account with the demo password (default true). */
  signinAccount?: boolean
}

/** A person, with a Sign-in account (demo password) and a Placements user with the memberships asked for. */
export async function givenPerson(services: TestServices, options: PersonOptions = {}): Promise<BuiltPerson> {
  const word = uniqueWord()
  const person: BuiltPerson = {
    givenName: options.givenName ?? 'Sam',
    familyName: options.familyName ?? `Tester-${word}`,
    email: options.email ?? `sam.${word}@example.com`
  }
  const now = new Date()
  if (options.signinAccount !== false) {
    const account = await insertAccount(services.signin.context.db, {
      email: person.email, givenName: person.givenName, familyName: person.familyName, passwordHash: await demoPasswordHash()
    }, now)
    if (!account) throw new Error(`a Sign-in account for ${person.email} exists already`)
    person.accountId = account.id
  }
  if (options.placementsUser !== false) {
    const db = services.placements.context.db
    person.user = await db.insertInto('users').values({
      email: person.email, email_normalised: person.email.toLowerCase(), given_name: person.givenName, family_name: person.familyName,
      sign_in_sub: null, last_signed_in_at: null, created_at: now
    }).returningAll().executeTakeFirstOrThrow()
    for (const organisation of options.memberOf ?? []) {
      await db.insertInto('memberships').values({ user_id: person.user.id, organisation_id: organisation.id, created_at: now }).execute()
    }
    if (options.support) await db.insertInto('support_users').values({ user_id: person.user.id, created_at: now }).execute()
  }
  return person
}

/** A school (or, with `kind: 'provider'`, a teacher-training provider) with a name no other test uses. */
export async function givenOrganisation(services: TestServices, options: { kind?: 'school' | 'provider', name?: string } = {}): Promise<Organisation> {
  const word = uniqueWord()
  const kind = options.kind ?? 'school'
  const digits = String(parseInt(randomBytes(3).toString('hex'), 16)).padStart(6, '0').slice(-6)
  return services.placements.context.db.insertInto('organisations').values({
    kind,
    name: options.name ?? (kind === 'school' ? `School ${word}` : `Provider ${word}`),
    urn: kind === 'school' ? digits : null,
    ukprn: kind === 'provider' ? `10${digits}` : null,
    provider_code: kind === 'provider' ? word.slice(-3).toUpperCase() : null,
    created_at: new Date()
  }).returningAll().executeTakeFirstOrThrow()
}

/** An organisation with one member who can sign in: the commonest start of a Placements test. */
export async function givenOrganisationWithMember(services: TestServices, options: { kind?: 'school' | 'provider', member?: PersonOptions } = {}): Promise<{ organisation: Organisation, member: BuiltPerson }> {
  const organisation = await givenOrganisation(services, options.kind ? { kind: options.kind } : {})
  const member = await givenPerson(services, { ...options.member, memberOf: [organisation, ...options.member?.memberOf ?? []] })
  return { organisation, member }
}
