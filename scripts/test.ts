import { spawnSync } from 'node:child_process'
import { globSync } from 'node:fs'

/**
 * Runs every test, three times over the stores that matter:
 *   1. everything, on PGlite (embedded) with short-lived state in PostgreSQL tables;
 *   2. everything but the browser journeys, on the PostgreSQL server with Redis;
 *   3. the browser journeys (real Chromium), on PGlite.
 * Set TEST_ONLY=pglite|servers|browser to run one pass.
 */
const all = globSync(['src/**/*.test.ts', 'test/**/*.test.ts']).sort()
const browser = all.filter((file) => file.endsWith('.browser.test.ts'))
const http = all.filter((file) => !browser.includes(file))

const passes = [
  { name: 'pglite', files: http, env: { TEST_BACKEND: 'pglite', REDIS_URL: '' } },
  { name: 'servers', files: http, env: { TEST_BACKEND: 'postgres', REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' } },
  { name: 'browser', files: browser, env: { TEST_BACKEND: 'pglite', REDIS_URL: '' } }
].filter((pass) => !process.env.TEST_ONLY || process.env.TEST_ONLY === pass.name)

let failed = false
for (const pass of passes) {
  if (pass.files.length === 0) continue
  console.warn(`\n== ${pass.name}: ${pass.files.length} test files`)
  const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...pass.files], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'test', ...pass.env }
  })
  if (result.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)
