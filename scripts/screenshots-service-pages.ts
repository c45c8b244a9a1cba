import { sql, type Kysely } from 'kysely'
import type { Browser, Page } from 'playwright-core'
import { newPage } from '../test/support/browser.ts'
import { startTestServices } from '../test/support/placements.ts'

/**
 * The pages both services share (issue 8), for `npm run screenshots`: help, cookies,
 * accessibility statement, privacy notice, terms of use, the feedback form (empty, with
 * errors, sent), "Page not found" and "Sorry, there is a problem with the service" (a
 * fault made on purpose: the database refuses one particular feedback). States are
 * `<prefix>--<state>`, with the prefix of each service's other states.
 */
export async function servicePageScreenshots(browser: Browser, capture: (page: Page, state: string, prefix: string) => Promise<void>): Promise<void> {
  const services = await startTestServices()
  try {
    for (const [prefix, service] of [['dfe-sign-in', services.signin], ['placements', services.placements]] as const) {
      const page = await newPage(browser, { javaScript: true })
      page.context().setDefaultTimeout(15_000)
      const visit = async (path: string, state: string) => {
        await page.goto(`${service.url}${path}`)
        await capture(page, state, prefix)
      }
      await visit('/help', 'help')
      await visit('/cookies', 'cookies')
      await visit('/accessibility-statement', 'accessibility-statement')
      await visit('/privacy-notice', 'privacy-notice')
      await visit('/terms-of-use', 'terms-of-use')
      await visit('/feedback', 'feedback')
      const send = () => Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: 'Send feedback' }).click()])
      await send()
      await capture(page, 'feedback-error', prefix)
      await page.locator('#tryingToDo').fill('Add a colleague to our school')
      await page.locator('#howItWent').fill('It was quick once I found the button.')
      await send()
      await capture(page, 'feedback-sent', prefix)
      await visit('/no-such-page', 'page-not-found')

      const db = service.context.db as unknown as Kysely<unknown>
      const fault = 'Screenshot of the problem page'
      await sql`alter table feedback add constraint screenshot_fault check (how_it_went <> ${sql.lit(fault)})`.execute(db)
      await page.goto(`${service.url}/feedback`)
      await page.locator('#tryingToDo').fill('Show the problem page')
      await page.locator('#howItWent').fill(fault)
      await send()
      await capture(page, 'problem-with-the-service', prefix)
      await page.context().close()
    }
  } finally {
    await services.close()
  }
}
