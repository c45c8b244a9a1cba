import type { Kysely } from 'kysely'
import { DataFolderInUseError } from '../platform/data-folder-lock.ts'
import { openDatabase, type DatabaseLocation } from '../platform/database.ts'
import { readSigninConfig } from '../signin/config.ts'
import type { SigninDatabase } from '../signin/database/schema.ts'

/**
 * Runs a command on a database and closes it. An embedded database that a running
 * service (or another command) holds is refused with the lock's own message, which
 * says what to do; nothing is written, and the command fails (exit code 1) rather than
 * report a change that would be lost.
 */
export async function withDatabase<Schema>(location: DatabaseLocation, command: (db: Kysely<Schema>) => Promise<void>): Promise<void> {
  let db: Kysely<Schema>
  try {
    db = await openDatabase<Schema>(location)
  } catch (error) {
    if (!(error instanceof DataFolderInUseError)) throw error
    console.error(error.message)
    process.exitCode = 1
    return
  }
  try {
    await command(db)
  } finally {
    await db.destroy()
  }
}

/** Commands open Sign-in's database exactly as the service does (same settings, same lock). */
export function withSigninDatabase(command: (db: Kysely<SigninDatabase>) => Promise<void>): Promise<void> {
  return withDatabase(readSigninConfig().database, command)
}

/** `--name value` pairs; a name given twice collects every value. */
export function parseArguments(argv: string[]): { command: string | undefined, options: Map<string, string[]> } {
  const [command, ...rest] = argv
  const options = new Map<string, string[]>()
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    if (!arg.startsWith('--')) throw new Error(`Unexpected argument "${arg}"`)
    const value = rest[i + 1]
    if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value`)
    options.set(arg.slice(2), [...options.get(arg.slice(2)) ?? [], value])
    i++
  }
  return { command, options }
}
