import { randomInt, randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { migrate, openDatabase } from '../../src/platform/database.ts'
import { placementsMigrations } from '../../src/placements/database/migrations.ts'
import type { PlacementsDatabase } from '../../src/placements/database/schema.ts'
import { recordSignIn } from '../../src/placements/domain/sign-in.ts'
import { trigramCounts } from '../../src/placements/domain/name-search.ts'
import { findOrganisation, membersOf } from '../../src/placements/domain/users.ts'
import { auditPageSize } from '../../src/placements/pages/support/audit.ts'
import { auditTrail, searchOrganisations } from '../../src/placements/pages/support/queries.ts'
import { findAccountByEmail } from '../../src/signin/accounts/accounts.ts'
import { signinMigrations } from '../../src/signin/database/migrations.ts'
import type { SigninDatabase } from '../../src/signin/database/schema.ts'
import { datasetEmail, fullSize, loadPlacements, loadSignin, scaled, type DatasetSize } from '../dataset.ts'
import { percentile } from './http-load.ts'
import type { Row } from './table.ts'

/**
 * The dataset part of `npm run bench` (issue 9, "Scale"): the same operations, through
 * the services' own functions, on a dataset of 1,000 rows and on the full one (`npm run
 * dataset`: 1,000,000 accounts, 30,000 organisations, 1,000,000 memberships, 10,000,000
 * audit events), on the PostgreSQL server, in databases of their own (`bench_dataset_<size>_<pid>_*`, so two runs at once do not collide),
 * dropped afterwards. p95 of each, and the ratio full/small against the 1.5× target.
 *
 * `reuse: true` measures the full size in `bench_dataset_signin` / `bench_dataset_placements`
 * as they are (loaded beforehand with `npm run dataset`), migrated, and keeps them.
 */
type Operation = { name: string, run: (i: number) => Promise<unknown> }
const runs = 200
// Each first sign-in binds its user: a reused dataset must be given users not bound by an earlier run.
const firstSignInSeed = randomInt(1_000_000)

function operations(signin: Kysely<SigninDatabase>, placements: Kysely<PlacementsDatabase>, size: DatasetSize, organisations: Array<{ id: string, name: string, urn: string | null, ukprn: string | null, provider_code: string | null }>, lastPage: number, middleSeq: string): Operation[] {
  const pick = <T>(values: T[], i: number) => values[(i * 7919) % values.length]!
  const schools = organisations.filter((o) => o.urn)
  const providers = organisations.filter((o) => o.ukprn)
  return [
    { name: 'sign-in: account by email', run: (i) => findAccountByEmail(signin, datasetEmail((i * 7919) % size.accounts)) },
    {
      name: 'matching a first sign-in',
      run: (i) => recordSignIn(placements, { sub: randomUUID(), email: datasetEmail((i * 104_729 + firstSignInSeed) % size.users), emailVerified: true, givenName: 'Dataset', familyName: 'Person' }, new Date())
    },
    // A distinctive part of a name, as support types it: the name without its first 3 letters.
    { name: 'support search: part of a name', run: (i) => searchOrganisations(placements, pick(organisations, i).name.slice(3).toLowerCase(), 20, 0) },
    // One distinctive word, as support might type it: the place in the name ("oakwood"), shared by one organisation in 30.
    { name: 'support search: one word of a name', run: (i) => searchOrganisations(placements, pick(organisations, i).name.split(' ')[0]!.toLowerCase(), 20, 0) },
    { name: 'support search: URN', run: (i) => searchOrganisations(placements, pick(schools, i).urn!, 20, 0) },
    { name: 'support search: UKPRN', run: (i) => searchOrganisations(placements, pick(providers, i).ukprn!, 20, 0) },
    { name: 'support search: provider code (any case)', run: (i) => searchOrganisations(placements, pick(providers, i).provider_code!.toLowerCase(), 20, 0) },
    {
      name: "an organisation's users page",
      run: async (i) => {
        const organisation = await findOrganisation(placements, pick(organisations, i).id)
        return membersOf(placements, organisation!.id)
      }
    },
    { name: 'audit trail: first page', run: () => auditTrail(placements, auditPageSize, 0) },
    { name: 'audit trail: last page', run: () => auditTrail(placements, auditPageSize, (lastPage - 1) * auditPageSize) },
    // "Next" from the page before, halfway down the trail: the link carries the last event shown (keyset, ADR 20).
    { name: 'audit trail: a middle page, by its link', run: () => auditTrail(placements, auditPageSize, Math.floor(lastPage / 2) * auditPageSize, { before: middleSeq }) }
  ]
}

interface Opened {
  signin: Kysely<SigninDatabase>
  placements: Kysely<PlacementsDatabase>
  operations: Operation[]
  /** With `explain`: each statement's plan, as auto_explain reports it (EXPLAIN ANALYZE, BUFFERS), taken by `plans`. */
  notices: string[]
}

/** One connection whose every statement's executed plan comes back as a notice. */
function explaining<Schema>(url: string, notices: string[]): Kysely<Schema> {
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  pool.on('connect', (client) => {
    client.on('notice', (notice) => { if (notice.message?.includes('Query Text')) notices.push(notice.message) })
    void client.query(`load 'auto_explain'; set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on; set auto_explain.log_buffers = on; set client_min_messages = log`)
  })
  return new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
}

async function open(signinUrl: string, placementsUrl: string, size: DatasetSize, load: boolean, log: (message: string) => void, explain = false): Promise<Opened> {
  const notices: string[] = []
  const signin = explain ? explaining<SigninDatabase>(signinUrl, notices) : await openDatabase<SigninDatabase>({ url: signinUrl })
  const placements = explain ? explaining<PlacementsDatabase>(placementsUrl, notices) : await openDatabase<PlacementsDatabase>({ url: placementsUrl })
  await migrate(signin as Kysely<unknown>, signinMigrations)
  await migrate(placements as Kysely<unknown>, placementsMigrations)
  if (load) await Promise.all([loadSignin(signin as Kysely<unknown>, size, log), loadPlacements(placements as Kysely<unknown>, size, log)])
  await sql`analyze`.execute(placements)
  const organisations = await placements.selectFrom('organisations').select(['id', 'name', 'urn', 'ukprn', 'provider_code']).execute()
  // The name search's word counts (ADR 20), counted in the background on first use, as a running service has them.
  for (let turn = 0; turn < 1000 && trigramCounts(placements).organisations === 0; turn++) await new Promise((resolve) => setTimeout(resolve, 10))
  const { total } = await auditTrail(placements, 1, 0)
  const { rows: [ends] } = await sql<{ middle: string }>`select ((min(seq) + max(seq)) / 2)::text as middle from audit_events`.execute(placements)
  return { signin, placements, operations: operations(signin, placements, size, organisations, Math.max(1, Math.ceil(total / auditPageSize)), ends!.middle), notices }
}

interface Measured { name: string, smallMs: number, fullMs: number, smallMedianMs: number, fullMedianMs: number }

/**
 * p95 of each operation at both sizes, the two sizes taking turns run by run, so a
 * machine busy with other work slows both alike.
 */
async function measure(small: Opened, full: Opened): Promise<Measured[]> {
  const results: Measured[] = []
  for (const [index, smallOperation] of small.operations.entries()) {
    const fullOperation = full.operations[index]!
    for (let i = 0; i < 20; i++) {
      await smallOperation.run(runs + i)
      await fullOperation.run(runs + i)
    }
    const smallTimes: number[] = []
    const fullTimes: number[] = []
    for (let i = 0; i < runs; i++) {
      for (const [operation, times] of [[smallOperation, smallTimes], [fullOperation, fullTimes]] as const) {
        const begun = performance.now()
        await operation.run(i)
        times.push(performance.now() - begun)
      }
    }
    smallTimes.sort((a, b) => a - b)
    fullTimes.sort((a, b) => a - b)
    results.push({
      name: smallOperation.name, smallMs: percentile(smallTimes, 0.95), fullMs: percentile(fullTimes, 0.95),
      smallMedianMs: percentile(smallTimes, 0.5), fullMedianMs: percentile(fullTimes, 0.5)
    })
  }
  return results
}

async function withDatabases<T>(serverUrl: string, tag: string, work: (signinUrl: string, placementsUrl: string) => Promise<T>): Promise<T> {
  const names = [`bench_dataset_${tag}_${process.pid}_signin`, `bench_dataset_${tag}_${process.pid}_placements`]
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  for (const name of names) await admin.query(`create database ${name}`)
  await admin.end()
  const urlOf = (name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString()
  try {
    return await work(urlOf(names[0]!), urlOf(names[1]!))
  } finally {
    const cleanup = new pg.Client({ connectionString: serverUrl })
    await cleanup.connect()
    for (const name of names) await cleanup.query(`drop database if exists ${name} with (force)`)
    await cleanup.end()
  }
}

export async function datasetQueries(serverUrl: string, log: (message: string) => void, options: { reuse?: boolean, reusePrefix?: string } = {}): Promise<Row[]> {
  const urlOf = (name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString()
  const results = await withDatabases(serverUrl, 'small', async (smallSignin, smallPlacements) => {
    log('dataset: 1,000 rows…')
    const small = await open(smallSignin, smallPlacements, scaled(0.001), true, log)
    try {
      const atFullSize = async (signinUrl: string, placementsUrl: string) => {
        log(options.reuse ? 'dataset: full size, as loaded by npm run dataset…' : 'dataset: full size (minutes)…')
        const full = await open(signinUrl, placementsUrl, fullSize, !options.reuse, log)
        try {
          log('dataset: timing each operation at both sizes…')
          return await measure(small, full)
        } finally {
          await full.signin.destroy()
          await full.placements.destroy()
        }
      }
      return options.reuse
        ? await atFullSize(urlOf(`${options.reusePrefix ?? 'bench_dataset'}_signin`), urlOf(`${options.reusePrefix ?? 'bench_dataset'}_placements`))
        : await withDatabases(serverUrl, 'full', atFullSize)
    } finally {
      await small.signin.destroy()
      await small.placements.destroy()
    }
  })
  // The median beside the p95: on a shared machine the p95 is mostly other processes' doing.
  return results.map(({ name, smallMs, fullMs, smallMedianMs, fullMedianMs }) => (
    { measure: `dataset: ${name}, p95`, raw: `${smallMs.toFixed(2)} ms at 1,000 rows → ${fullMs.toFixed(2)} ms at full size (p50 ${smallMedianMs.toFixed(2)} → ${fullMedianMs.toFixed(2)} ms)`, value: fullMs / smallMs, atMost: 1.5, unit: '×' as const }
  ))
}

/**
 * `--plans`: each operation's statements with their executed plans (EXPLAIN ANALYZE,
 * BUFFERS, through auto_explain) at 1,000 rows and at full size, after one warm-up run.
 * Run 1, not run 0: organisation 0 is one of the 240 names without a number (242 names
 * hold "wood primary school"), while nearly every term the timings use ends in one.
 */
async function plans(serverUrl: string, reusePrefix: string): Promise<void> {
  const urlOf = (name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString()
  await withDatabases(serverUrl, 'small', async (smallSignin, smallPlacements) => {
    await (await open(smallSignin, smallPlacements, scaled(0.001), true, () => {})).placements.destroy()
    for (const [label, signinUrl, placementsUrl, size] of [['1,000 rows', smallSignin, smallPlacements, scaled(0.001)], ['full size', urlOf(`${reusePrefix}_signin`), urlOf(`${reusePrefix}_placements`), fullSize]] as const) {
      const opened = await open(signinUrl, placementsUrl, size, false, () => {}, true)
      for (const operation of opened.operations) {
        await operation.run(2)
        opened.notices.length = 0
        await operation.run(1)
        process.stdout.write(`\n### ${operation.name}, ${label}\n${opened.notices.map((notice) => notice.replace(/^duration: [0-9.]+ ms\s+plan:\n/, '')).join('\n')}\n`)
      }
      await opened.signin.destroy()
      await opened.placements.destroy()
    }
  })
}

if (import.meta.main && process.argv.includes('--plans')) {
  await plans(process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', process.argv[process.argv.indexOf('--plans') + 1] ?? 'bench_dataset')
} else if (import.meta.main) {
  // `node scripts/bench/dataset-queries.ts --reuse [prefix]`: this part alone, on `<prefix>_signin` and `<prefix>_placements` (default bench_dataset).
  const { printTable } = await import('./table.ts')
  const reuse = process.argv.indexOf('--reuse')
  const reusePrefix = reuse > 0 && /^[a-z_][a-z0-9_]*$/.test(process.argv[reuse + 1] ?? '') ? process.argv[reuse + 1] : undefined
  const rows = await datasetQueries(process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', (message) => console.warn(message), { reuse: reuse > 0, ...(reusePrefix ? { reusePrefix } : {}) })
  printTable(rows)
}
