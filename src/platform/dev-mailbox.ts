import { Router } from 'express'
import type { Kysely } from 'kysely'
import { recentEmails, type OutboxTable } from './mail/outbox.ts'

/**
 * Development only: the emails this service has written to its outbox, newest first,
 * so codes and links can be followed without a real mail provider.
 */
export function devMailbox<Schema extends OutboxTable>(db: Kysely<Schema>): Router {
  const router = Router()
  router.get('/dev/mailbox', async (_req, res) => {
    const emails = await recentEmails(db, 50)
    res.setHeader('Cache-Control', 'no-store')
    res.render('dev/mailbox.njk', { emails })
  })
  router.get('/dev/mailbox.json', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store')
    res.json(await recentEmails(db, 50))
  })
  return router
}
