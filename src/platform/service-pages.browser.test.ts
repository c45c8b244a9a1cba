import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sql } from 'kysely'
import type { Browser, Page } from 'playwright-core'
import { button, clickAndWait, expectAccessible, heading, launchBrowser, openPage } from '../../test/support/browser.ts'
import { startTestServices, type TestServices } from '../../test/support/placements.ts'
import { expectServiceChrome } from '../../test/support/service-chrome.ts'
import { nextAppCode } from '../../test/support/second-factor.ts'
import { signInInBrowser } from '../../test/support/sign-in-steps.ts'
import { RunningClock } from '../../test/support/running-clock.ts'
import { demoAppSecret, demoPassword } from '../demo/personas.ts'

/**
 * Issue 8 in a browser: from any page of either service a person finds help, cookies, the
 * accessibility statement and the privacy notice; the 404, 500 and feedback pages; support
 * reads Placements' feedback. Every page state is checked with axe (WCAG 2.2 AA + region),
 * with and without JavaScript, and at 320 CSS pixels wide (no sideways scrolling).
 */
let browser: Browser
let services: TestServices

// Real time, moved on to the next 30-second step when Colin's app code for this one was taken.
const clock = new RunningClock()

before(async () => {
  services = await startTestServices({ clock })
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
  await services?.close()
})

const serviceNames = { signin: 'DfE Sign-in', placements: 'Manage school placements' }
const supportEmails = { signin: 'signin-support@example.com', placements: 'placements-support@example.com' }

/** The page as a person meets it: chrome, then axe and 320 px wide without sideways scrolling (expectAccessible does both, once). */
async function expectGoodPage(page: Page, label: string): Promise<void> {
  await expectServiceChrome(page)
  await expectAccessible(page, label)
}

async function expectSupportInMain(page: Page, service: 'signin' | 'placements', label: string): Promise<void> {
  assert.equal(await page.locator(`main a[href="mailto:${supportEmails[service]}"]`).count() > 0, true, `${label}: the support address in the page`)
}

for (const javaScript of [true, false]) {
  const mode = javaScript ? 'with JavaScript' : 'without JavaScript'

  for (const service of ['signin', 'placements'] as const) {
    const name = serviceNames[service]

    test(`${name}: from the home page, the footer leads to help, cookies, accessibility, privacy and terms, ${mode}`, async () => {
      const page = await openPage(browser, javaScript)
      await page.goto(services[service].url)
      await expectServiceChrome(page)
      await expectAccessible(page, `${name} home, ${mode}`)
      await expectSupportInMain(page, service, `${name} home`)
      const pages: Array<[string, string]> = [
        ['Help', `Get help with ${name}`],
        ['Cookies', 'Cookies'],
        ['Accessibility statement', `Accessibility statement for ${name}`],
        ['Privacy notice', 'Privacy notice'],
        ['Terms of use', 'Terms of use']
      ]
      for (const [link, expectedHeading] of pages) {
        await clickAndWait(page, page.locator('footer').getByRole('link', { name: link, exact: true }))
        assert.equal(await heading(page), expectedHeading)
        assert.equal(await page.title(), `${expectedHeading} – ${name} – GOV.UK`)
        await expectGoodPage(page, `${name} ${link}, ${mode}`)
      }
      await page.context().close()
    })

    test(`${name}: the feedback form gives GOV.UK errors, then stores what was said, ${mode}`, async () => {
      await services[service].context.store.delete('feedback:127.0.0.1')
      const page = await openPage(browser, javaScript)
      await page.goto(`${services[service].url}/feedback`)
      assert.equal(await heading(page), `Give feedback on ${name}`)
      await expectGoodPage(page, `${name} feedback, ${mode}`)
      await clickAndWait(page, button(page, 'Send feedback'))
      assert.match(await page.title(), /^Error: Give feedback/)
      assert.deepEqual(await page.locator('.govuk-error-summary__list a').allInnerTexts(), ['Enter what you were trying to do', 'Enter how it went'])
      assert.equal((await page.locator('#howItWent-error').innerText()).replace(/^Error:\s*/, '').trim(), 'Enter how it went')
      await expectGoodPage(page, `${name} feedback, empty, ${mode}`)

      const tryingToDo = `Browser feedback ${service} ${mode} ${Date.now()}`
      await page.locator('#tryingToDo').fill(tryingToDo)
      await page.locator('#howItWent').fill('It went well')
      await clickAndWait(page, button(page, 'Send feedback'))
      assert.equal(await heading(page), 'Thank you for your feedback')
      await expectSupportInMain(page, service, `${name} feedback sent`)
      await expectGoodPage(page, `${name} feedback sent, ${mode}`)
      const stored = await sql<{ how_it_went: string }>`select how_it_went from feedback where trying_to_do = ${tryingToDo}`.execute(services[service].context.db)
      assert.deepEqual(stored.rows.map((row) => row.how_it_went), ['It went well'])
      await page.context().close()
    })

    test(`${name}: unknown paths get the GOV.UK "Page not found" page with the support address, ${mode}`, async () => {
      const page = await openPage(browser, javaScript)
      for (const path of service === 'signin' ? ['/no-such-page', '/token/no-such-page'] : ['/no-such-page']) {
        const response = await page.goto(`${services[service].url}${path}`)
        assert.equal(response?.status(), 404, path)
        assert.equal(await heading(page), 'Page not found')
        await expectSupportInMain(page, service, `${name} 404`)
        await expectGoodPage(page, `${name} 404 ${path}, ${mode}`)
      }
      await page.context().close()
    })

    test(`${name}: a fault gets "Sorry, there is a problem with the service" with a reference and the support address, ${mode}`, async (t) => {
      const { context } = services[service]
      const fault = `Fail in the browser ${service} ${mode}`
      const constraint = sql.raw(`browser_fault_${service}_${javaScript ? 'js' : 'nojs'}`)
      await sql`alter table feedback add constraint ${constraint} check (how_it_went <> ${sql.lit(fault)})`.execute(context.db)
      t.after(() => sql`alter table feedback drop constraint ${constraint}`.execute(context.db))
      await context.store.delete('feedback:127.0.0.1')
      const page = await openPage(browser, javaScript)
      await page.goto(`${services[service].url}/feedback`)
      await page.locator('#tryingToDo').fill('Break it')
      await page.locator('#howItWent').fill(fault)
      const answered = page.waitForResponse((response) => response.request().method() === 'POST')
      await clickAndWait(page, button(page, 'Send feedback'))
      assert.equal((await answered).status(), 500)
      assert.equal(await heading(page), 'Sorry, there is a problem with the service')
      assert.match(await page.locator('#error-reference').innerText(), /^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/)
      await expectSupportInMain(page, service, `${name} 500`)
      await expectGoodPage(page, `${name} 500, ${mode}`)
      await page.context().close()
    })
  }

  test(`Placements' support console lists feedback newest first, on a phone too, ${mode}`, async () => {
    const { db } = services.placements.context
    const marker = `Console ${mode} ${Date.now()}`
    await sql`insert into feedback (at, trying_to_do, how_it_went) values (${clock.now()}, ${`${marker}: a very-long-word-that-must-wrap-on-a-phone-screen-rather-than-widen-the-page`}, ${'Not well.\nIt took three tries.'})`.execute(db)
    const page = await openPage(browser, javaScript)
    await page.goto(`${services.placements.url}/sign-in`)
    // Colin, a support user, proves his authenticator app (support needs it: ADR 10).
    await signInInBrowser(page, { email: 'colin.chapman@education.gov.uk', password: demoPassword }, () => nextAppCode(demoAppSecret, clock))
    await clickAndWait(page, page.getByRole('link', { name: 'Feedback', exact: true }))
    assert.equal(await heading(page), 'Feedback')
    const firstCard = page.locator('.govuk-summary-card').first()
    assert.match(await firstCard.innerText(), new RegExp(marker))
    assert.match(await firstCard.innerText(), /Not well\.\nIt took three tries\./)
    await expectGoodPage(page, `Placements support feedback, ${mode}`)
    await page.context().close()
  })
}
