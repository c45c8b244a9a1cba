import { stat } from 'node:fs/promises'
import type { Locator, Page } from 'playwright-core'
import { launchBrowser, newPage, screenshot, screenshotsDir } from '../test/support/browser.ts'
import { startTestSignin } from '../test/support/signin.ts'
import { startTestClient } from '../test/support/test-client.ts'

/**
 * Renders Sign-in's page states (docs: shared/design/journeys.md, `dfe-sign-in--*`) and
 * captures each as screenshots/<state>.png. A test Sign-in (in-memory database, dev
 * mailbox) and a stand-in service called "Manage school placements" are started, then the
 * journeys are walked in Chromium with JavaScript on, as a person would.
 */
process.env.NODE_ENV ??= 'test'

const serviceName = 'Manage school placements'
const password = 'correct horse battery staple 2026'
const written: string[] = []

async function capture(page: Page, state: string): Promise<void> {
  // Web fonts and the GOV.UK JavaScript (error summary focus, password toggles) settle first.
  await page.waitForLoadState('load')
  await page.evaluate(() => document.fonts.ready.then(() => undefined))
  written.push(await screenshot(page, `dfe-sign-in--${state}`))
}

async function clickAndWait(page: Page, target: Locator): Promise<void> {
  const navigated = page.waitForNavigation({ waitUntil: 'load' })
  await target.click()
  await navigated
}

async function expectHeading(page: Page, text: string): Promise<void> {
  const actual = (await page.locator('h1').first().innerText()).replace(/\s+/g, ' ').trim()
  if (!actual.endsWith(text)) throw new Error(`Expected the page "${text}", got "${actual}" at ${page.url()}`)
}

async function expectErrorSummary(page: Page): Promise<void> {
  if (await page.locator('.govuk-error-summary').count() !== 1) throw new Error(`Expected an error summary at ${page.url()}`)
}

async function main(): Promise<void> {
  const started = Date.now()
  const signin = await startTestSignin()
  const clientId = 'manage-school-placements'
  const clientSecret = 'screenshots-only-client-secret-0123456789'
  const service = await startTestClient({ issuer: signin.url, clientId, clientSecret })
  await signin.registerTestClient({ baseUrl: service.url, clientId, secret: clientSecret, name: serviceName })
  const browser = await launchBrowser()
  try {
    const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true })

    // Sign in, and forgotten password.
    let page = await newPage(browser, { javaScript: true })
    page.context().setDefaultTimeout(15_000)
    await page.goto(`${service.url}/sign-in`)
    await expectHeading(page, 'Sign in')
    await capture(page, 'sign-in')
    await clickAndWait(page, button(page, 'Sign in'))
    await expectErrorSummary(page)
    await capture(page, 'sign-in-error')

    await clickAndWait(page, page.getByRole('link', { name: 'Forgotten your password?' }))
    await expectHeading(page, 'Reset your password')
    await capture(page, 'forgot-password')
    await clickAndWait(page, button(page, 'Continue'))
    await expectErrorSummary(page)
    await capture(page, 'forgot-password-error')
    await page.context().close()

    // Create an account, with a typo in the address corrected on the way.
    const typo = 'alex.tayler@example.com'
    const corrected = 'alex.taylor@example.com'
    page = await newPage(browser, { javaScript: true })
    page.context().setDefaultTimeout(15_000)
    await page.goto(`${service.url}/sign-in`)
    await clickAndWait(page, page.getByRole('link', { name: /create .*account/i }))
    await expectHeading(page, 'Create an account')
    await capture(page, 'create-account')
    await clickAndWait(page, button(page, 'Continue'))
    await expectErrorSummary(page)
    await capture(page, 'create-account-error')

    await page.locator('#givenName').fill('Alex')
    await page.locator('#familyName').fill('Taylor')
    await page.locator('#email').fill(typo)
    await clickAndWait(page, button(page, 'Continue'))
    await expectHeading(page, 'Check your email')
    await capture(page, 'confirm-email')
    await page.locator('#code').fill('12345')
    await clickAndWait(page, button(page, 'Continue'))
    await expectErrorSummary(page)
    await capture(page, 'confirm-email-error')

    await page.locator('summary', { hasText: 'Not received an email?' }).click()
    await clickAndWait(page, page.getByRole('link', { name: 'resend the code' }))
    await expectHeading(page, 'Resend the code')
    await capture(page, 'resend-verification-code')
    await page.locator('#email').fill('alex.taylor@example')
    await clickAndWait(page, button(page, 'Send a new code'))
    await expectErrorSummary(page)
    await capture(page, 'resend-verification-code-error')
    await page.locator('#email').fill(corrected)
    await clickAndWait(page, button(page, 'Send a new code'))
    await expectHeading(page, 'Check your email')
    await capture(page, 'verification-code-resent')

    await page.locator('#code').fill(await signin.latestCode(corrected))
    await clickAndWait(page, button(page, 'Continue'))
    await expectHeading(page, 'Create your password')
    await capture(page, 'create-password')
    await page.locator('#password').fill('short')
    await page.locator('#confirmPassword').fill('short')
    await clickAndWait(page, button(page, 'Create account'))
    await expectErrorSummary(page)
    await capture(page, 'create-password-error')
    await page.locator('#password').fill(password)
    await page.locator('#confirmPassword').fill(password)
    await clickAndWait(page, button(page, 'Create account'))
    await page.locator('.govuk-panel').waitFor()
    await capture(page, 'registration-complete')

    // The journey ends where it started: in the service, signed in.
    await clickAndWait(page, button(page, `Continue to ${serviceName}`))
    await page.waitForURL(`${service.url}/`)
    if (!(await page.locator('main').innerText()).includes(`Signed in as ${corrected}`)) throw new Error('Not signed in at the service')
    await page.context().close()
  } finally {
    await browser.close()
    await service.close()
    await signin.close()
  }

  for (const path of written) await stat(path)
  process.stdout.write(`Wrote ${written.length} screenshots to ${screenshotsDir}/ in ${((Date.now() - started) / 1000).toFixed(1)} s:\n`)
  for (const path of written) process.stdout.write(`  ${path.slice(screenshotsDir.length + 1)}\n`)
}

try {
  await main()
  process.exit(0)
} catch (error) {
  console.error(error)
  process.exit(1)
}
