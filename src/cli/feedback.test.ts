import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { runCommand } from '../../test/support/service-node.ts'
import { migrate, openDatabase } from '../platform/database.ts'
import type { FeedbackTable } from '../platform/feedback.ts'
import { placementsMigrations } from '../placements/database/migrations.ts'
import { signinMigrations } from '../signin/database/migrations.ts'

// `npm run feedback`: how support reads Sign-in's feedback (it has no console), and
// Placements' too, from each service's own database with the services' own settings.
test('npm run feedback prints each service\'s feedback, newest first, and one service on request', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'feedback-cli-'))
  t.after(() => rm(dataDir, { recursive: true, force: true }))
  const seed = async (folder: string, migrations: Record<string, Migration>, entries: Array<[string, string]>) => {
    const db = await openDatabase<FeedbackTable>({ directory: path.join(dataDir, folder) })
    try {
      await migrate(db as unknown as Kysely<unknown>, migrations)
      for (const [i, [tryingToDo, howItWent]] of entries.entries()) {
        await db.insertInto('feedback').values({ at: new Date(Date.UTC(2026, 10, 27, 10, i)), trying_to_do: tryingToDo, how_it_went: howItWent }).execute()
      }
    } finally {
      await db.destroy()
    }
  }
  await seed('signin', signinMigrations, [['Create an account', 'The code came quickly'], ['Reset my password', 'Fine\nsecond line']])
  await seed('placements', placementsMigrations, [['Add a colleague', 'Easy']])
  const env = { NODE_ENV: 'test', DATA_DIR: dataDir }

  const both = await runCommand('src/cli/feedback.ts', [], env)
  assert.equal(both.code, 0, both.output)
  assert.match(both.output, /Sign-in: the newest 2, newest first\n\n27 November 2026 at 10:01am\n {2}Trying to do: Reset my password\n {2}How it went: {2}Fine\n {16}second line\n\n27 November 2026 at 10:00am\n {2}Trying to do: Create an account/)
  assert.match(both.output, /Placements: the newest 1, newest first\n\n27 November 2026 at 10:00am\n {2}Trying to do: Add a colleague/)

  const one = await runCommand('src/cli/feedback.ts', ['placements', '--limit', '5'], env)
  assert.equal(one.code, 0, one.output)
  assert.doesNotMatch(one.output, /Sign-in/)
  assert.match(one.output, /Add a colleague/)

  const wrong = await runCommand('src/cli/feedback.ts', ['everything'], env)
  assert.equal(wrong.code, 1)
  assert.match(wrong.output, /usage: npm run feedback/)
})
