import type { Request, RequestHandler, Response, Router } from 'express'
import { collect, field, hasErrors } from '../../../platform/validation.ts'
import { renderFormErrors } from '../../../platform/views.ts'
import { passwordMessages, passwordProblems, passwordRules } from '../../accounts/password-policy.ts'
import { saveJourney } from '../journey.ts'

/** Whose password it is: the policy refuses one made of the person's own address or name. */
export interface PasswordOwner { email: string, givenName: string, familyName: string }

/**
 * The "create a password" page of a journey (new-password.njk), written once for creating
 * an account and a forgotten password: the journey says whose password it is and which verb
 * sets it.
 */
export interface NewPasswordPage<Owner extends PasswordOwner> {
  at: string
  /** Only once the journey has reached it (requireStep). */
  reached: RequestHandler
  view: string
  /** Whose password; or where to go instead (already set in this journey, or the journey no longer holds). */
  owner: (req: Request) => Promise<Owner | { redirect: string }>
  /** Sets the owner's password (a verb) and notes it in the journey: where to go next, or why it was refused (409). */
  save: (req: Request, password: string, owner: Owner) => Promise<{ next: string } | { refused: string }>
}

export function newPasswordPage<Owner extends PasswordOwner>(router: Router, page: NewPasswordPage<Owner>): void {
  router.get(page.at, page.reached, (_req, res) => {
    res.render(page.view, { rules: passwordRules })
  })

  router.post(page.at, page.reached, async (req, res) => {
    const owner = await page.owner(req)
    if ('redirect' in owner) return res.redirect(303, owner.redirect)
    const password = newPasswordStep(req, res, page.view, owner)
    if (password === undefined) return
    const saved = await page.save(req, password, owner)
    if ('refused' in saved) return renderFormErrors(res, page.view, { password: saved.refused }, { rules: passwordRules }, 409)
    saveJourney(req)
    res.redirect(303, saved.next)
  })
}

/** The password when it and its confirmation meet the policy; otherwise undefined, and the page again with what is wrong. */
function newPasswordStep(req: Request, res: Response, view: string, owner: PasswordOwner): string | undefined {
  const password = field(req, 'password')
  const problems = passwordProblems({ password, confirmation: field(req, 'confirmPassword'), email: owner.email, givenName: owner.givenName, familyName: owner.familyName })
  const errors = collect([
    ['password', problems.password && passwordMessages[problems.password]],
    ['confirmPassword', problems.confirmPassword && passwordMessages[problems.confirmPassword]]
  ])
  if (!hasErrors(errors)) return password
  renderFormErrors(res, view, errors, { rules: passwordRules })
  return undefined
}
