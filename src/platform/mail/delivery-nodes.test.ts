import assert from 'node:assert/strict'
import { afterEach, beforeEach, test } from 'node:test'
import type { Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { startSmtpSink, type SmtpSink } from '../../../test/support/smtp-sink.ts'
import { FakeClock } from '../clock.ts'
import { migrate } from '../database.ts'
import { createLogger } from '../logger.ts'
import { DeliveryWorker, transportFrom, type OutgoingEmail, type Transport } from './delivery.ts'
import { outboxLeaseMigration, outboxMigration, queueEmail, type OutboxTable } from './outbox.ts'

// Every node runs a delivery worker on the one database. Here the workers are real, the
// database is real (on the server, each worker has its own connection pool, as separate
// nodes would) and so is the SMTP server they deliver to; only the clock is moved by hand.
const from = 'no-reply@placements.example'
const log = createLogger('test', 'silent')
let database: TestDatabase<OutboxTable>
let sink: SmtpSink

beforeEach(async () => {
  database = await freshDatabase<OutboxTable>()
  await migrate(database.db as unknown as Kysely<unknown>, { '0001-outbox': outboxMigration, '0002-outbox-lease': outboxLeaseMigration })
  sink = await startSmtpSink()
})
afterEach(async () => {
  await sink.close()
  await database.drop()
})

/** The real SMTP transport, counting what it sends and how many sends overlap. */
class CountingTransport implements Transport {
  readonly #smtp = transportFrom({ smtpUrl: sink.url, from })!
  sent = 0
  inFlight = 0
  mostInFlight = 0
  async send(email: OutgoingEmail) {
    this.inFlight++
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight)
    try {
      await this.#smtp.send(email)
      this.sent++
    } finally {
      this.inFlight--
    }
  }
}

/** Holds every send until released, as a slow or stuck provider would. */
class GatedTransport implements Transport {
  started = 0
  readonly #waiting: Array<(error?: Error) => void> = []
  #opened: Error | null | undefined
  readonly #smtp = transportFrom({ smtpUrl: sink.url, from })!
  async send(email: OutgoingEmail) {
    this.started++
    if (this.#opened === undefined) {
      const failure = await new Promise<Error | undefined>((resolve) => this.#waiting.push(resolve))
      if (failure) throw failure
    } else if (this.#opened) throw this.#opened
    await this.#smtp.send(email)
  }
  /** Lets every held send go on; with an error, they all fail with it. */
  open(error?: Error) {
    this.#opened = error ?? null
    for (const resume of this.#waiting.splice(0)) resume(error)
  }
}

async function queue(db: Kysely<OutboxTable>, count: number, clock: FakeClock, tag: string): Promise<string[]> {
  for (let i = 0; i < count; i++) await queueEmail(db, { to: `${tag}-${i}@example.com`, subject: `${tag} ${i}`, body: 'Hello' }, clock.now())
  const rows = await db.selectFrom('outbox').select('id').where('recipient', 'like', `${tag}-%`).execute()
  return rows.map((row) => row.id)
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const outboxRows = (db: Kysely<OutboxTable>) => db.selectFrom('outbox').selectAll().execute()

test('three nodes sending from one outbox at once deliver every email exactly once', async () => {
  const clock = new FakeClock()
  const count = 150
  const ids = await queue(database.db, count, clock, 'once')
  const transports = [new CountingTransport(), new CountingTransport(), new CountingTransport()]
  const workers = await Promise.all(transports.map(async (transport) =>
    new DeliveryWorker(await database.connectAnother(), transport, clock, log)))
  for (const worker of workers) worker.start(10)
  await sink.waitFor(count, 60_000)
  await Promise.all(workers.map((worker) => worker.stop()))

  const byRecipient = new Map<string, number>()
  for (const message of sink.received) for (const to of message.to) byRecipient.set(to, (byRecipient.get(to) ?? 0) + 1)
  const twice = [...byRecipient.values()].filter((n) => n > 1).length
  assert.equal(twice, 0, `${twice} of ${count} emails were delivered more than once (${sink.received.length} deliveries)`)
  assert.equal(sink.received.length, count)
  assert.deepEqual(sink.received.map((m) => m.messageId).sort(), ids.map((id) => `<${id}@placements.example>`).sort(),
    'each email carries its outbox id as its Message-ID')
  for (const transport of transports) assert.ok(transport.sent > 0, `every node took part (${transports.map((t) => t.sent).join(', ')})`)
  const rows = await outboxRows(database.db)
  assert.ok(rows.every((row) => row.sent_at !== null && row.attempts === 1 && row.claimed_until === null))
})

test('full batches are sent one after another without waiting, at most 8 at a time', async () => {
  const clock = new FakeClock()
  await queue(database.db, 100, clock, 'burst')
  const transport = new CountingTransport()
  const worker = new DeliveryWorker(database.db, transport, clock, log)
  // An hour between runs: everything must go in the first run, batch after batch.
  worker.start(3_600_000)
  await sink.waitFor(100, 60_000)
  await worker.stop()
  assert.equal(transport.sent, 100)
  assert.equal(transport.mostInFlight, 8)
})

test('a row claimed by a node that died is sent by another once the lease has run out, and only then', async () => {
  const clock = new FakeClock()
  const [id] = await queue(database.db, 1, clock, 'lease')
  const stuck = new GatedTransport()
  const dying = new DeliveryWorker(database.db, stuck, clock, log, { leaseSeconds: 120 })
  const dyingRun = dying.deliverDue()
  await until(() => stuck.started === 1, 'the first node is sending')

  const other = new DeliveryWorker(await database.connectAnother(), new CountingTransport(), clock, log, { leaseSeconds: 120 })
  assert.equal(await other.deliverDue(), 0, 'claimed: left alone')
  clock.advanceSeconds(119)
  assert.equal(await other.deliverDue(), 0, 'still within the lease')
  clock.advanceSeconds(2)
  assert.equal(await other.deliverDue(), 1, 'the lease has run out')
  assert.deepEqual(sink.received.map((m) => m.messageId), [`<${id}@placements.example>`])

  // The first node's send finally fails: that must not undo the delivery the other recorded.
  stuck.open(new Error('connection reset'))
  assert.equal(await dyingRun, 0)
  const [row] = await outboxRows(database.db)
  assert.ok(row!.sent_at)
  assert.equal(row!.last_error, null)
  assert.equal(await other.deliverDue(), 0, 'never sent again')
})

test('a stopped worker finishes the sends under way, hands back the rest at once, and sends nothing more', async () => {
  const clock = new FakeClock()
  await queue(database.db, 20, clock, 'stop')
  const gated = new GatedTransport()
  const worker = new DeliveryWorker(database.db, gated, clock, log, { batchSize: 20, parallel: 8 })
  worker.start(10)
  await until(() => gated.started === 8, 'eight sends are under way')
  const stopped = worker.stop()
  gated.open()
  await stopped
  assert.equal(sink.received.length, 8, 'the sends under way finished')
  const rows = await outboxRows(database.db)
  assert.equal(rows.filter((row) => row.sent_at === null && row.claimed_until === null).length, 12, 'the rest are free for other nodes')

  await queue(database.db, 5, clock, 'after-stop')
  clock.advanceSeconds(600)
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(gated.started, 8, 'nothing more was sent after the stop')

  const other = new DeliveryWorker(await database.connectAnother(), new CountingTransport(), clock, log)
  assert.equal(await other.deliverDue(), 17, 'another node takes them without waiting for a lease')
})
