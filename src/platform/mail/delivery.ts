import type { Kysely } from 'kysely'
import nodemailer from 'nodemailer'
import { NotifyClient } from 'notifications-node-client'
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Email, OutboxTable } from './outbox.ts'

/** How an email leaves: GOV.UK Notify, SMTP, or (development) not at all. */
export interface Transport {
  send(email: Email): Promise<void>
}

export interface MailConfig {
  notifyApiKey?: string | undefined
  /** One Notify template whose subject is ((subject)) and body ((body)). */
  notifyTemplateId?: string | undefined
  smtpUrl?: string | undefined
  from?: string | undefined
}

export function transportFrom(config: MailConfig): Transport | undefined {
  if (config.notifyApiKey) {
    if (!config.notifyTemplateId) throw new Error('NOTIFY_TEMPLATE_ID must be set with NOTIFY_API_KEY')
    const client = new NotifyClient(config.notifyApiKey)
    const templateId = config.notifyTemplateId
    return {
      async send(email) {
        await client.sendEmail(templateId, email.to, { personalisation: { subject: email.subject, body: email.body } })
      }
    }
  }
  if (config.smtpUrl) {
    const transporter = nodemailer.createTransport(config.smtpUrl)
    const from = config.from ?? 'no-reply@localhost'
    return {
      async send(email) {
        await transporter.sendMail({ from, to: email.to, subject: email.subject, text: email.body })
      }
    }
  }
  return undefined
}

/**
 * Sends what is waiting in the outbox, oldest first, retrying failures with
 * exponential back-off (30 s doubling, at most 1 hour). At-least-once: an email whose
 * send succeeded but whose row could not be marked may go twice, never zero times.
 */
export class DeliveryWorker {
  readonly #db: Kysely<OutboxTable>
  readonly #transport: Transport
  readonly #clock: Clock
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined

  constructor(db: Kysely<OutboxTable> | Kysely<never>, transport: Transport, clock: Clock, log: Logger) {
    this.#db = db as unknown as Kysely<OutboxTable>
    this.#transport = transport
    this.#clock = clock
    this.#log = log
  }

  async deliverDue(limit = 20): Promise<number> {
    const due = await this.#db.selectFrom('outbox').selectAll()
      .where('sent_at', 'is', null).where('next_attempt_at', '<=', this.#clock.now())
      .orderBy('next_attempt_at').limit(limit).execute()
    let sent = 0
    for (const row of due) {
      try {
        await this.#transport.send({ to: row.recipient, subject: row.subject, body: row.body })
        await this.#db.updateTable('outbox').set({ sent_at: this.#clock.now(), attempts: row.attempts + 1, last_error: null })
          .where('id', '=', row.id).execute()
        sent++
      } catch (error) {
        const attempts = row.attempts + 1
        const delaySeconds = Math.min(3600, 30 * 2 ** (attempts - 1))
        const message = error instanceof Error ? error.message.slice(0, 500) : 'unknown error'
        this.#log.warn({ emailId: row.id, attempts, err: message }, 'email delivery failed; will retry')
        await this.#db.updateTable('outbox')
          .set({ attempts, last_error: message, next_attempt_at: new Date(this.#clock.now().getTime() + delaySeconds * 1000) })
          .where('id', '=', row.id).execute()
      }
    }
    return sent
  }

  start(intervalMs = 5000): void {
    const tick = () => {
      this.deliverDue().catch((error: unknown) => this.#log.error({ err: error }, 'email delivery run failed'))
        .finally(() => { this.#timer = setTimeout(tick, intervalMs) })
    }
    this.#timer = setTimeout(tick, 0)
  }

  stop(): void {
    clearTimeout(this.#timer)
  }
}
