import type { Request, RequestHandler, Router } from 'express'
import type { CodeSent } from '../../accounts/code-actions.ts'
import type { CheckResult } from '../../accounts/emailed-codes.ts'
import { saveJourney } from '../journey.ts'
import { emailForCode, enterEmailedCode } from './code-step.ts'

/**
 * The "Check your email" page of a journey and its "Resend the code" page (enter-code.njk,
 * resend-code.njk), written once for creating an account and a forgotten password: the
 * journey says where they are, which verbs check and send, and what a right code or a new
 * code changes in the journey.
 */
export interface EmailedCodePages {
  /** Within the journey's router: the two pages. */
  at: { code: string, resend: string }
  /** The absolute path of a page of the journey, for redirects. */
  href: (req: Request, at: string) => string
  /** Only once the journey has reached them (requireStep). */
  reached: RequestHandler
  views: { code: string, resend: string }
  /** The address the code went to. */
  emailOf: (req: Request) => string
  /** Checks a typed code (a verb, which audits); `accountId` when the code proves an account. */
  check: (req: Request, code: string) => Promise<{ result: CheckResult, accountId?: string | undefined }>
  /** Sends a code (a verb, which counts, audits and emails). */
  send: (req: Request, email: string) => Promise<CodeSent>
  /** The code was right: notes it in the journey and answers where to go next. */
  proven: (req: Request, accountId: string | undefined) => string
  /** A new code went to `email` (perhaps a corrected address): notes it in the journey. */
  resent: (req: Request, email: string) => void
}

export function emailedCodePages(router: Router, pages: EmailedCodePages): void {
  router.get(pages.at.code, pages.reached, (req, res) => {
    res.render(pages.views.code, { email: pages.emailOf(req) })
  })

  router.post(pages.at.code, pages.reached, async (req, res) => {
    let accountId: string | undefined
    const check = async (code: string) => {
      const checked = await pages.check(req, code)
      accountId = checked.accountId
      return checked.result
    }
    if (!(await enterEmailedCode(req, res, pages.views.code, { email: pages.emailOf(req) }, check))) return
    const next = pages.proven(req, accountId)
    saveJourney(req)
    res.redirect(303, next)
  })

  router.get(pages.at.resend, pages.reached, (req, res) => {
    res.render(pages.views.resend, { values: { email: pages.emailOf(req) } })
  })

  router.post(pages.at.resend, pages.reached, async (req, res) => {
    const email = await emailForCode(req, res, pages.views.resend, (typed) => pages.send(req, typed))
    if (!email) return
    pages.resent(req, email)
    req.signin.journey.banner = `We've sent a new code to ${email}`
    saveJourney(req)
    res.redirect(303, pages.href(req, pages.at.code))
  })
}
