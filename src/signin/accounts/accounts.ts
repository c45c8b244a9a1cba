import type { Kysely, QueryCreator, Selectable, Transaction } from 'kysely'
import type { SigninDatabase } from '../database/schema.ts'

export type Account = Selectable<SigninDatabase['accounts']>
type Db = Kysely<SigninDatabase> | Transaction<SigninDatabase>

/** One address, one account: compared trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase()
}

export async function findAccountByEmail(db: Db, email: string): Promise<Account | undefined> {
  return db.selectFrom('accounts').selectAll().where('email_normalised', '=', normaliseEmail(email)).executeTakeFirst()
}

export async function findAccountById(db: Db, id: string): Promise<Account | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst()
}

export interface NewAccount {
  email: string
  givenName: string
  familyName: string
  passwordHash: string
}

/** Returns undefined when the address was taken meanwhile (unique index), never a half-made account. */
export async function insertAccount(db: Db, account: NewAccount, now: Date): Promise<Account | undefined> {
  return db.insertInto('accounts').values({
    email: account.email.trim(),
    email_normalised: normaliseEmail(account.email),
    given_name: account.givenName,
    family_name: account.familyName,
    password_hash: account.passwordHash,
    created_at: now,
    password_changed_at: now,
    last_signed_in_at: now
  }).onConflict((c) => c.column('email_normalised').doNothing()).returningAll().executeTakeFirst()
}

export async function setPassword(db: Db, accountId: string, passwordHash: string, now: Date): Promise<void> {
  await db.updateTable('accounts').set({ password_hash: passwordHash, password_changed_at: now }).where('id', '=', accountId).execute()
}

/** The row side of a sign-in (actions.ts `recordSignIn` is the verb). */
export async function markSignedIn(db: Db, accountId: string, now: Date, newPasswordHash?: string): Promise<void> {
  await signedInUpdate(db, accountId, now, newPasswordHash).execute()
}

/** The update behind markSignedIn, to run inside another statement (see recordAuditWithChange). */
export function signedInUpdate(db: QueryCreator<SigninDatabase>, accountId: string, now: Date, newPasswordHash?: string) {
  return db.updateTable('accounts')
    .set({ last_signed_in_at: now, ...(newPasswordHash ? { password_hash: newPasswordHash } : {}) })
    .where('id', '=', accountId).returning('id')
}

/**
 * Gives the account a new address. One account per address holds through the unique
 * index on email_normalised, whatever runs at the same time: of two accounts taking the
 * same address at once, one update waits for the other and then fails with a unique
 * violation, which is answered here as 'taken' (the caller's transaction is rolled back).
 */
export async function changeEmail(db: Kysely<SigninDatabase>, accountId: string, email: string, then: (trx: Transaction<SigninDatabase>) => Promise<void>): Promise<'changed' | 'taken'> {
  try {
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('accounts').set({ email: email.trim(), email_normalised: normaliseEmail(email) }).where('id', '=', accountId).execute()
      await then(trx)
    })
    return 'changed'
  } catch (error) {
    if ((error as { code?: unknown }).code === '23505') return 'taken'
    throw error
  }
}
