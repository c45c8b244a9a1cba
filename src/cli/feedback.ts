import type { Kysely } from 'kysely'
import { recentFeedback, type FeedbackTable } from '../platform/feedback.ts'
import { readPlacementsConfig } from '../placements/config.ts'
import { formatLondonTime } from '../placements/pages/support/audit.ts'
import { readSigninConfig } from '../signin/config.ts'
import { parseArguments, withDatabase } from './signin-database.ts'

/**
 * `npm run feedback -- [signin|placements] [--limit N]`: the newest feedback people gave
 * with the beta banner's form, newest first (default 20 from each service). Sign-in has no
 * console of its own, so this is how support reads its feedback; Placements' is also in
 * its support console. Reads each service's database with the service's own settings.
 */
const usage = 'usage: npm run feedback -- [signin|placements] [--limit N]'

const { command, options } = parseArguments(process.argv.slice(2))
const limitText = options.get('limit')?.at(-1) ?? '20'
const services = [
  { key: 'signin', name: 'Sign-in', location: () => readSigninConfig().database },
  { key: 'placements', name: 'Placements', location: () => readPlacementsConfig().database }
]
if ((command !== undefined && !services.some((s) => s.key === command)) || !/^[1-9][0-9]{0,3}$/.test(limitText)) {
  console.error(usage)
  process.exitCode = 1
} else {
  for (const service of services) {
    if (command !== undefined && command !== service.key) continue
    await withDatabase<FeedbackTable>(service.location(), async (db: Kysely<FeedbackTable>) => {
      const entries = await recentFeedback(db, Number(limitText))
      process.stdout.write(`${service.name}: ${entries.length === 0 ? 'no feedback yet' : `the newest ${entries.length}, newest first`}\n\n`)
      for (const entry of entries) {
        process.stdout.write(`${formatLondonTime(entry.at)}\n  Trying to do: ${indent(entry.tryingToDo)}\n  How it went:  ${indent(entry.howItWent)}\n\n`)
      }
    })
    if (process.exitCode) break
  }
}

function indent(text: string): string {
  return text.replace(/\r?\n/g, '\n                ')
}
