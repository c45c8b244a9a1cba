import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

/**
 * A real SMTP server on a free local port that keeps every message it is given, so a
 * test can count what actually arrived (by Message-ID) rather than what a sender claims.
 */
export interface ReceivedMessage {
  messageId: string | undefined
  to: string[]
  raw: string
}

export interface SmtpSink {
  url: string
  received: ReceivedMessage[]
  /** Resolves once at least `count` messages have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const received: ReceivedMessage[] = []
  const waiters = new Set<() => void>()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const headers = raw.split(/\r?\n\r?\n/, 1)[0]!
        received.push({
          messageId: headers.match(/^message-id:\s*(.+)$/im)?.[1]?.trim(),
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw
        })
        for (const wake of waiters) wake()
        callback()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as AddressInfo
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    waitFor(count, timeoutMs = 15_000) {
      if (received.length >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`Expected ${count} messages at the SMTP sink, got ${received.length}`))
        }, timeoutMs)
        const check = () => {
          if (received.length < count) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
      })
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
