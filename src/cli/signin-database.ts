import type { Kysely } from 'kysely'
import { openDatabase } from '../platform/database.ts'
import { readSigninConfig } from '../signin/config.ts'
import type { SigninDatabase } from '../signin/database/schema.ts'

/** Commands open Sign-in's database exactly as the service does (same settings). */
export async function openSigninDatabase(): Promise<Kysely<SigninDatabase>> {
  return openDatabase<SigninDatabase>(readSigninConfig().database)
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
