import { spawnSync } from 'node:child_process'
import { globSync, statSync } from 'node:fs'

/**
 * Runs every test, four times over the stores and set-ups that matter:
 *   1. everything, on PGlite (embedded) with short-lived state in PostgreSQL tables;
 *   2. everything but the browser journeys, on the PostgreSQL server with Redis;
 *   3. the browser journeys (real Chromium), on PGlite;
 *   4. the reliability tests (`*.reliability.test.ts`): real node processes, two of each
 *      service behind round-robin proxies, on a PostgreSQL server and a redis-server the
 *      tests start themselves (and stop, for outages), one file at a time.
 * Set TEST_ONLY=pglite|servers|browser|reliability to run one pass.
 * Set TEST_SHUFFLE=1 to run the files and the tests in each file in a random order (Node's
 * --test-randomize; the seed is printed), or TEST_SEED=<n> to repeat an order that failed.
 */
const all = globSync(['src/**/*.test.ts', 'test/**/*.test.ts']).sort()
// Longest first (size stands in for time): the two workers then finish close together,
// instead of one starting the longest journeys while the other has nothing left.
const browser = all.filter((file) => file.endsWith('.browser.test.ts')).sort((a, b) => statSync(b).size - statSync(a).size)
const reliability = all.filter((file) => file.endsWith('.reliability.test.ts'))
const http = all.filter((file) => !browser.includes(file) && !reliability.includes(file))

const passes = [
  { name: 'pglite', files: http, concurrency: 2, env: { TEST_BACKEND: 'pglite', REDIS_URL: '' } },
  { name: 'servers', files: http, concurrency: 2, env: { TEST_BACKEND: 'postgres', REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' } },
  { name: 'browser', files: browser, concurrency: 2, env: { TEST_BACKEND: 'pglite', REDIS_URL: '' } },
  // One file at a time: each runs several processes and times its outages.
  { name: 'reliability', files: reliability, concurrency: 1, env: { REDIS_URL: '' } }
].filter((pass) => !process.env.TEST_ONLY || process.env.TEST_ONLY === pass.name)

let failed = false
for (const pass of passes) {
  if (pass.files.length === 0) continue
  console.warn(`\n== ${pass.name}: ${pass.files.length} test files`)
  const started = Date.now()
  const order = process.env.TEST_SEED ? [`--test-random-seed=${process.env.TEST_SEED}`] : process.env.TEST_SHUFFLE ? ['--test-randomize'] : []
  const result = spawnSync(process.execPath, ['--test', ...order, `--test-concurrency=${pass.concurrency}`, '--test-timeout=600000', ...pass.files], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'test', ...pass.env }
  })
  console.warn(`== ${pass.name}: ${result.status === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s`)
  if (result.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)
