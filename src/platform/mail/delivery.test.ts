import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Kysely } from 'kysely'
import { freshDatabase, type TestDatabase } from '../../../test/support/databases.ts'
import { FakeClock } from '../clock.ts'
import { migrate } from '../database.ts'
import { createLogger } from '../logger.ts'
import { DeliveryWorker, type Transport } from './delivery.ts'
import { outboxMigration, queueEmail, recentEmails, type Email, type OutboxTable } from './outbox.ts'

// The email provider is outside the system, so it is the one thing faked here.
let database: TestDatabase<OutboxTable>
let db: Kysely<OutboxTable>
before(async () => {
  database = await freshDatabase<OutboxTable>()
  db = database.db
  await migrate(db as unknown as Kysely<unknown>, { '0001': outboxMigration })
})
after(() => database.drop())

class FlakyTransport implements Transport {
  sent: Email[] = []
  failuresLeft: number
  constructor(failures: number) {
    this.failuresLeft = failures
  }
  async send(email: Email) {
    if (this.failuresLeft > 0) {
      this.failuresLeft--
      throw new Error('provider unavailable')
    }
    this.sent.push(email)
  }
}

test('an email written in a rolled-back transaction is never sent', async () => {
  const clock = new FakeClock()
  await assert.rejects(db.transaction().execute(async (trx) => {
    await queueEmail(trx, { to: 'lost@example.com', subject: 'Lost', body: 'x' }, clock.now())
    throw new Error('the change failed')
  }))
  assert.equal((await recentEmails(db)).filter((e) => e.to === 'lost@example.com').length, 0)
})

test('the worker sends what is due, retries failures with back-off, and sends each email once', async () => {
  const clock = new FakeClock()
  const transport = new FlakyTransport(2)
  const worker = new DeliveryWorker(db, transport, clock, createLogger('test', 'silent'))
  await queueEmail(db, { to: 'retry@example.com', subject: 'Hello', body: 'Body' }, clock.now())

  assert.equal(await worker.deliverDue(), 0, 'first attempt fails')
  assert.equal(await worker.deliverDue(), 0, 'not due again until the back-off has passed')
  clock.advanceSeconds(30)
  assert.equal(await worker.deliverDue(), 0, 'second attempt fails')
  clock.advanceSeconds(30)
  assert.equal(await worker.deliverDue(), 0, 'back-off doubled to 60 seconds')
  clock.advanceSeconds(30)
  assert.equal(await worker.deliverDue(), 1)
  assert.deepEqual(transport.sent.map((e) => e.to), ['retry@example.com'])
  assert.equal(await worker.deliverDue(), 0, 'never sent twice')
  const [row] = await db.selectFrom('outbox').selectAll().where('recipient', '=', 'retry@example.com').execute()
  assert.equal(row!.attempts, 3)
  assert.ok(row!.sent_at)
  assert.equal(row!.last_error, null)
})

test('the dev mailbox lists the newest email first', async () => {
  const clock = new FakeClock()
  await queueEmail(db, { to: 'order@example.com', subject: 'First', body: '1' }, clock.now())
  await queueEmail(db, { to: 'order@example.com', subject: 'Second', body: '2' }, clock.now())
  const emails = (await recentEmails(db)).filter((e) => e.to === 'order@example.com')
  assert.deepEqual(emails.map((e) => e.subject), ['Second', 'First'])
})
