import { sql, type Kysely } from 'kysely'
import type { Transporter } from 'nodemailer'
import type { NotifyClient } from 'notifications-node-client'
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Email, OutboxTable } from './outbox.ts'

/** An email as it leaves: its outbox id goes with it, so a repeat can be recognised downstream. */
export interface OutgoingEmail extends Email {
  id: string
}

/** How an email leaves: GOV.UK Notify, SMTP, or (development) not at all. */
export interface Transport {
  send(email: OutgoingEmail): Promise<void>
}

export interface MailConfig {
  notifyApiKey?: string | undefined
  /** One Notify template whose subject is ((subject)) and body ((body)). */
  notifyTemplateId?: string | undefined
  /** Notify's API address; only tests change it, to a stand-in on this machine. */
  notifyBaseUrl?: string | undefined
  smtpUrl?: string | undefined
  from?: string | undefined
}

/**
 * The email provider's client library (nodemailer or Notify's, each ~5 MB of heap with
 * what it pulls in) is imported at the first email, not at start: a node of a service
 * that sends no email, or has none waiting, does not hold it (docs/performance.md, Memory).
 */
export function transportFrom(config: MailConfig): Transport | undefined {
  if (config.notifyApiKey) {
    if (!config.notifyTemplateId) throw new Error('NOTIFY_TEMPLATE_ID must be set with NOTIFY_API_KEY')
    const { notifyBaseUrl, notifyApiKey } = config
    let client: Promise<NotifyClient> | undefined
    const templateId = config.notifyTemplateId
    return {
      async send(email) {
        client ??= import('notifications-node-client').then(({ NotifyClient }) => notifyBaseUrl ? new NotifyClient(notifyBaseUrl, notifyApiKey) : new NotifyClient(notifyApiKey))
        await (await client).sendEmail(templateId, email.to, { personalisation: { subject: email.subject, body: email.body }, reference: email.id })
      }
    }
  }
  if (config.smtpUrl) {
    // A send must end well inside the claim's lease, or another node may send it again.
    const url = config.smtpUrl
    let transporter: Promise<Transporter> | undefined
    const from = config.from ?? 'no-reply@localhost'
    const host = from.slice(from.lastIndexOf('@') + 1).replace(/>$/, '') || 'localhost'
    return {
      async send(email) {
        transporter ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport({ url, connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 60_000 }))
        await (await transporter).sendMail({ from, to: email.to, subject: email.subject, text: email.body, messageId: `<${email.id}@${host}>` })
      }
    }
  }
  return undefined
}

export interface DeliveryOptions {
  /** Rows claimed at once. */
  batchSize?: number
  /** Sends in flight at once. */
  parallel?: number
  /** How long a claim lasts: a node that dies mid-send leaves its rows to others after this. */
  leaseSeconds?: number
}

type OutboxRow = { id: string, recipient: string, subject: string, body: string, attempts: number, claimed_until: Date | null }

/**
 * Sends what is waiting in the outbox, oldest first, retrying failures with
 * exponential back-off (30 s doubling, at most 1 hour). Every node runs a worker: each
 * claims its rows (`FOR UPDATE SKIP LOCKED`, with a lease) so no two send the same email.
 * At-least-once: an email whose send succeeded but whose row could not be marked, or
 * whose send outlasted its lease, may go twice (with the same id), never zero times.
 */
export class DeliveryWorker {
  readonly #db: Kysely<OutboxTable>
  readonly #transport: Transport
  readonly #clock: Clock
  readonly #log: Logger
  readonly #batchSize: number
  readonly #parallel: number
  readonly #leaseMs: number
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #running: Promise<void> = Promise.resolve()

  constructor(db: Kysely<OutboxTable> | Kysely<never>, transport: Transport, clock: Clock, log: Logger, options: DeliveryOptions = {}) {
    this.#db = db as unknown as Kysely<OutboxTable>
    this.#transport = transport
    this.#clock = clock
    this.#log = log
    this.#batchSize = options.batchSize ?? 20
    this.#parallel = options.parallel ?? 8
    this.#leaseMs = (options.leaseSeconds ?? 120) * 1000
  }

  /** Claims one batch of due emails and sends it; returns how many were sent. */
  async deliverDue(): Promise<number> {
    return (await this.#deliverBatch()).sent
  }

  async #deliverBatch(): Promise<{ claimed: number, sent: number }> {
    const rows = await this.#claim()
    let next = 0
    let sent = 0
    const lane = async () => {
      // After a stop, rows not yet started are handed back rather than sent.
      while (!this.#stopped && next < rows.length) {
        const row = rows[next++]!
        try {
          if (await this.#send(row)) sent++
        } catch (error) {
          // The database failed around a send: the lease lapses and the row is tried again.
          this.#log.error({ emailId: row.id, err: error }, 'email delivery could not be recorded')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#parallel, rows.length) }, lane))
    if (next < rows.length) await this.#release(rows.slice(next))
    return { claimed: rows.length, sent }
  }

  /** One statement, so two nodes never claim the same row; an expired lease counts as no claim. */
  async #claim(): Promise<OutboxRow[]> {
    const now = this.#clock.now()
    const until = new Date(now.getTime() + this.#leaseMs)
    const { rows } = await sql<OutboxRow>`
      update outbox set claimed_until = ${until}
      where id in (
        select id from outbox
        where sent_at is null and next_attempt_at <= ${now} and (claimed_until is null or claimed_until <= ${now})
        order by next_attempt_at
        limit ${this.#batchSize}
        for update skip locked
      )
      returning id, recipient, subject, body, attempts, claimed_until`.execute(this.#db)
    return rows
  }

  async #send(row: OutboxRow): Promise<boolean> {
    try {
      await this.#transport.send({ id: row.id, to: row.recipient, subject: row.subject, body: row.body })
    } catch (error) {
      await this.#failed(row, error)
      return false
    }
    await this.#db.updateTable('outbox').set({ sent_at: this.#clock.now(), attempts: row.attempts + 1, last_error: null, claimed_until: null })
      .where('id', '=', row.id).execute()
    return true
  }

  async #failed(row: OutboxRow, error: unknown): Promise<void> {
    const attempts = row.attempts + 1
    const delaySeconds = Math.min(3600, 30 * 2 ** (attempts - 1))
    const message = error instanceof Error ? error.message.slice(0, 500) : 'unknown error'
    this.#log.warn({ emailId: row.id, attempts, err: message }, 'email delivery failed; will retry')
    // Only while the claim is still ours: past its lease, another node may have sent it.
    await this.#db.updateTable('outbox')
      .set({ attempts, last_error: message, next_attempt_at: new Date(this.#clock.now().getTime() + delaySeconds * 1000), claimed_until: null })
      .where('id', '=', row.id).where('sent_at', 'is', null).where('claimed_until', '=', row.claimed_until).execute()
  }

  /** Hands rows back at once, rather than when the lease runs out. */
  async #release(rows: OutboxRow[]): Promise<void> {
    await this.#db.updateTable('outbox').set({ claimed_until: null })
      .where('id', 'in', rows.map((row) => row.id)).where('sent_at', 'is', null).where('claimed_until', '=', rows[0]!.claimed_until).execute()
  }

  /** Sends batch after batch while they come back full, then waits `intervalMs` for more. */
  start(intervalMs = 5000): void {
    this.#stopped = false
    const tick = () => {
      this.#timer = undefined
      this.#running = this.#drain()
        .catch((error: unknown) => this.#log.error({ err: error }, 'email delivery run failed'))
        .finally(() => { if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs).unref() })
    }
    this.#timer = setTimeout(tick, 0).unref()
  }

  async #drain(): Promise<void> {
    while (!this.#stopped) {
      const { claimed } = await this.#deliverBatch()
      if (claimed < this.#batchSize) return
    }
  }

  /**
   * Stops taking work: sends already under way finish, claimed rows not yet started are
   * released for other nodes at once. Resolves when the worker is idle.
   */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
  }
}
