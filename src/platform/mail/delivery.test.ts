import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import type { Kysely } from 'kysely'
import { freshDatabase } from '../../../test/support/databases.ts'
import { FakeClock } from '../clock.ts'
import { migrate } from '../database.ts'
import { createLogger } from '../logger.ts'
import { DeliveryWorker, transportFrom, type OutgoingEmail, type Transport } from './delivery.ts'
import { outboxLeaseMigration, outboxMigration, queueEmail, recentEmails, type OutboxTable } from './outbox.ts'

// The email provider is outside the system, so it is the one thing faked here.
// Each test has an outbox of its own: a worker sends whatever is due, so emails another
// test queued would be sent (and counted) by this test's worker.
async function freshOutbox(t: TestContext): Promise<Kysely<OutboxTable>> {
  const database = await freshDatabase<OutboxTable>()
  t.after(() => database.drop())
  await migrate(database.db as unknown as Kysely<unknown>, { '0001': outboxMigration, '0002': outboxLeaseMigration })
  return database.db
}

class FlakyTransport implements Transport {
  sent: OutgoingEmail[] = []
  failuresLeft: number
  constructor(failures: number) {
    this.failuresLeft = failures
  }
  async send(email: OutgoingEmail) {
    if (this.failuresLeft > 0) {
      this.failuresLeft--
      throw new Error('provider unavailable')
    }
    this.sent.push(email)
  }
}

test('an email written in a rolled-back transaction is never sent', async (t) => {
  const db = await freshOutbox(t)
  const clock = new FakeClock()
  await assert.rejects(db.transaction().execute(async (trx) => {
    await queueEmail(trx, { to: 'lost@example.com', subject: 'Lost', body: 'x' }, clock.now())
    throw new Error('the change failed')
  }))
  assert.equal((await recentEmails(db)).filter((e) => e.to === 'lost@example.com').length, 0)
})

test('the worker sends what is due, retries failures with back-off, and sends each email once', async (t) => {
  const db = await freshOutbox(t)
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

test('the dev mailbox lists the newest email first', async (t) => {
  const db = await freshOutbox(t)
  const clock = new FakeClock()
  await queueEmail(db, { to: 'order@example.com', subject: 'First', body: '1' }, clock.now())
  await queueEmail(db, { to: 'order@example.com', subject: 'Second', body: '2' }, clock.now())
  const emails = (await recentEmails(db)).filter((e) => e.to === 'order@example.com')
  assert.deepEqual(emails.map((e) => e.subject), ['Second', 'First'])
})

test('GOV.UK Notify is given the outbox id as its reference, so a repeat can be recognised there', async (t) => {
  const db = await freshOutbox(t)
  // Notify is outside the system: a stand-in on this machine answers as its API does.
  const requests: Array<{ path: string | undefined, body: Record<string, unknown> }> = []
  const notify = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      requests.push({ path: req.url, body: JSON.parse(body) as Record<string, unknown> })
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: '7b4ff7c4-0000-4000-8000-000000000001' }))
    })
  })
  await new Promise<void>((resolve) => notify.listen(0, '127.0.0.1', resolve))
  try {
    const transport = transportFrom({
      notifyApiKey: 'test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0',
      notifyTemplateId: 'f33517ff-2a88-4f6e-b855-c550268ce08a',
      notifyBaseUrl: `http://127.0.0.1:${(notify.address() as AddressInfo).port}`
    })!
    const clock = new FakeClock()
    await queueEmail(db, { to: 'notify@example.com', subject: 'Subject', body: 'Body' }, clock.now())
    const row = await db.selectFrom('outbox').select('id').where('recipient', '=', 'notify@example.com').executeTakeFirstOrThrow()
    await new DeliveryWorker(db, transport, clock, createLogger('test', 'silent')).deliverDue()
    const sent = requests.filter((request) => request.body.email_address === 'notify@example.com')
    assert.equal(sent.length, 1)
    assert.equal(sent[0]!.path, '/v2/notifications/email')
    assert.deepEqual(sent[0]!.body, {
      template_id: 'f33517ff-2a88-4f6e-b855-c550268ce08a',
      email_address: 'notify@example.com',
      personalisation: { subject: 'Subject', body: 'Body' },
      reference: row.id
    })
  } finally {
    notify.close()
  }
})
