import { stat } from 'node:fs/promises'
import type { Locator, Page } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { demoAppPersonaEmail, demoAppSecret, demoPassword } from '../src/demo/personas.ts'
import { nextAppCode } from '../test/support/second-factor.ts'
import { signInInBrowser } from '../test/support/sign-in-steps.ts'
import { launchBrowser, narrowestWidth, newPage, screenshot, screenshotsDir } from '../test/support/browser.ts'
import { startTestServices } from '../test/support/placements.ts'
import { startTestSignin } from '../test/support/signin.ts'
import { startTestClient } from '../test/support/test-client.ts'
import { passkeyScreenshots } from './screenshots-passkeys.ts'
import { servicePageScreenshots } from './screenshots-service-pages.ts'

/**
 * Renders Sign-in's page states (docs: docs/journeys.md, `dfe-sign-in--*`) and
 * captures each as screenshots/<state>.png. A test Sign-in (in-memory database, dev
 * mailbox) and a stand-in service called "Manage school placements" are started, then the
 * journeys are walked in Chromium with JavaScript on, as a person would.
 *
 * Then Placements' page states (`placements--*`): Placements and Sign-in run together
 * with the demo data, and the personas walk through them. The inactivity warning and the
 * timed-out page use the real 20-minute timeout, with the browser's clock moved on.
 */
process.env.NODE_ENV ??= 'test'

const serviceName = 'Manage school placements'
const password = 'correct horse battery staple 2026'
const written: string[] = []

/** Each state twice: at the test's desktop width, and at 320 CSS pixels (`<state>--320.png`, WCAG 1.4.10 Reflow). */
async function capture(page: Page, state: string, prefix = 'dfe-sign-in', options: { fullPage?: boolean } = {}): Promise<void> {
  // Web fonts and the GOV.UK JavaScript (error summary focus, password toggles) settle first.
  await page.waitForLoadState('load')
  await page.evaluate(() => document.fonts.ready.then(() => undefined))
  await captureAtThisWidth(page, `${prefix}--${state}`, options)
  const desktop = page.viewportSize()
  if (!desktop) return
  await page.setViewportSize({ width: narrowestWidth, height: desktop.height })
  try {
    await captureAtThisWidth(page, `${prefix}--${state}--${narrowestWidth}`, options)
  } finally {
    await page.setViewportSize(desktop)
  }
}

async function captureAtThisWidth(page: Page, name: string, options: { fullPage?: boolean }): Promise<void> {
  if (options.fullPage === false) {
    // What is on screen only: a modal's backdrop covers the viewport, not the whole page.
    const path = `${screenshotsDir}/${name}.png`
    await page.screenshot({ path })
    written.push(path)
    return
  }
  written.push(await screenshot(page, name))
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

async function expectPath(page: Page, origin: string, path: string | RegExp): Promise<void> {
  const url = new URL(page.url())
  const matches = typeof path === 'string' ? url.pathname === path : path.test(url.pathname)
  if (url.origin !== origin || !matches) throw new Error(`Expected ${origin}${path}, at ${page.url()}`)
}

/** Placements' page states, across Placements and Sign-in with the demo data. */
async function placementsScreenshots(browser: Browser): Promise<void> {
  const services = await startTestServices()
  const { placements, signin } = services
  const capturePlacements = (page: Page, state: string) => capture(page, state, 'placements')
  const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true })
  const open = async () => {
    const page = await newPage(browser, { javaScript: true })
    page.context().setDefaultTimeout(15_000)
    return page
  }
  // The second factor: the support persona's authenticator app, or the code Sign-in emails.
  const signIn = (page: Page, email: string, password = demoPassword) => signInInBrowser(page, { email, password }, async () => {
    if (email !== demoAppPersonaEmail) return signin.latestCode(email)
    await expectHeading(page, 'Enter the code from your authenticator app')
    if (!appPageCaptured) {
      await capture(page, 'sign-in-authenticator-app')
      await clickAndWait(page, page.getByRole('link', { name: 'Use another way to sign in' }))
      await expectHeading(page, 'How do you want to sign in?')
      await capture(page, 'choose-factor')
      await page.getByLabel('Use your authenticator app').check()
      await clickAndWait(page, button(page, 'Continue'))
      appPageCaptured = true
    }
    return nextAppCode(demoAppSecret)
  })
  let appPageCaptured = false
  const hasPage = async (page: Page, path: string) => {
    const response = await page.goto(`${placements.url}${path}`)
    return response !== null && response.status() < 400
  }
  try {
    // The start page, then someone whose Sign-in account Placements does not know.
    let page = await open()
    await page.goto(`${placements.url}/`)
    await expectHeading(page, 'Sign in to Manage school placements')
    await capturePlacements(page, 'start')
    await clickAndWait(page, button(page, 'Sign in using DfE Sign-in'))
    await clickAndWait(page, page.getByRole('link', { name: /create .*account/i }))
    const stranger = 'jo.bloggs@example.org'
    await page.locator('#givenName').fill('Jo')
    await page.locator('#familyName').fill('Bloggs')
    await page.locator('#email').fill(stranger)
    await clickAndWait(page, button(page, 'Continue'))
    await page.locator('#code').fill(await signin.latestCode(stranger))
    await clickAndWait(page, button(page, 'Continue'))
    await page.locator('#password').fill(password)
    await page.locator('#confirmPassword').fill(password)
    await clickAndWait(page, button(page, 'Create account'))
    await clickAndWait(page, button(page, `Continue to ${serviceName}`))
    await expectPath(page, placements.url, '/no-access')
    await expectHeading(page, 'You do not have access to this service')
    await capturePlacements(page, 'no-access')
    // Sign out of both (Sign-in's confirmation submits itself with JavaScript).
    await button(page, 'Sign out and sign in with a different account').click()
    await page.waitForURL((url) => url.pathname === '/signed-out')
    await expectHeading(page, 'You have signed out')
    await capturePlacements(page, 'signed-out')
    await page.context().close()

    // Mary, in three organisations: choose one, manage its users, then leave it idle.
    page = await open()
    await page.goto(`${placements.url}/sign-in`)
    await signIn(page, 'mary.lawson@example.com')
    await expectPath(page, placements.url, '/organisations')
    await expectHeading(page, 'Which organisation do you want to use?')
    await capturePlacements(page, 'choose-organisation')
    await clickAndWait(page, button(page, 'Continue'))
    await expectErrorSummary(page)
    await capturePlacements(page, 'choose-organisation-error')
    await page.getByLabel('Oakwood Primary School').check()
    await clickAndWait(page, button(page, 'Continue'))
    await expectHeading(page, 'Oakwood Primary School')
    await capturePlacements(page, 'organisation')
    const organisationUrl = page.url()

    if (await page.getByRole('button', { name: 'Add user' }).count() > 0) {
      await clickAndWait(page, button(page, 'Add user'))
      if (new URL(page.url()).pathname.endsWith('/users/new')) {
        await expectHeading(page, 'Add user')
        await capturePlacements(page, 'add-user')
        await page.locator('#email').fill('not an email address')
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrorSummary(page)
        await capturePlacements(page, 'add-user-error')
        await page.locator('#givenName').fill('Sam')
        await page.locator('#familyName').fill('Patel')
        await page.locator('#email').fill('sam.patel@oakwood.example.org')
        await clickAndWait(page, button(page, 'Continue'))
        await expectHeading(page, 'Check your answers')
        await capturePlacements(page, 'check-answers')
      }
      await page.goto(organisationUrl)
    }
    const remove = page.locator('main').getByRole('link', { name: /^Remove/ }).first()
    if (await remove.count() > 0) {
      await clickAndWait(page, remove)
      await expectHeading(page, 'Are you sure you want to remove Anne Wilson?')
      await capturePlacements(page, 'remove-user')
      await page.goto(organisationUrl)
    }

    // Nothing done for 18 minutes: two minutes left, the warning opens. The browser's clock
    // is ours to move on (so the real 20-minute timeout takes no time) and stands still
    // once the page has loaded, so the countdown shows "2 minutes".
    await page.clock.install()
    await page.goto(organisationUrl)
    // Paused just ahead of the page's time; on a busy machine that moment can pass before the
    // pause arrives ("Cannot fast-forward to the past"), so it is taken again, a little further on.
    for (let ahead = 50; ; ahead *= 4) {
      const paused = await page.clock.pauseAt(await page.evaluate(() => Date.now()) + ahead).then(() => true, (error: Error) => {
        if (ahead >= 3200 || !/to the past/.test(error.message)) throw error
        return false
      })
      if (paused) break
    }
    await page.clock.fastForward('18:00')
    await page.locator('#timeout-warning').waitFor({ state: 'visible' })
    const countdown = (await page.locator('#timeout-countdown').innerText()).trim()
    if (!/^(2 minutes|1 minute 5\d seconds)$/.test(countdown)) throw new Error(`Expected the warning to say "2 minutes", it says "${countdown}"`)
    await capture(page, 'timeout-warning', 'placements', { fullPage: false })
    // ...and nothing for two more: signed out.
    const timedOut = page.waitForURL(`${placements.url}/timed-out`)
    await page.clock.fastForward('02:01')
    await timedOut
    await expectHeading(page, 'You have been signed out')
    await capturePlacements(page, 'timed-out')
    await page.context().close()

    // Colin, a support user: the support console.
    page = await open()
    await page.goto(`${placements.url}/sign-in`)
    await signIn(page, 'colin.chapman@education.gov.uk')
    if (new URL(page.url()).pathname === '/support/organisations') {
      await expectHeading(page, 'Organisations')
      await capturePlacements(page, 'support-organisations')
    }
    if (await hasPage(page, '/support/organisations/new')) {
      await expectHeading(page, 'Add an organisation')
      await capturePlacements(page, 'support-add-organisation')
      await page.getByLabel('School', { exact: true }).check()
      await capturePlacements(page, 'support-add-organisation-school')
      await page.getByLabel('Teacher training provider', { exact: true }).check()
      await clickAndWait(page, page.locator('main form').getByRole('button', { name: 'Continue', exact: true }))
      await expectErrorSummary(page)
      await capturePlacements(page, 'support-add-organisation-error')
      await page.locator('#name').fill('Northfield and District Schools Centred Initial Teacher Training')
      await page.locator('#ukprn').fill('10099001')
      await page.locator('#providerCode').fill('9NF')
      await clickAndWait(page, page.locator('main form').getByRole('button', { name: 'Continue', exact: true }))
      await expectHeading(page, 'Check your answers')
      await capturePlacements(page, 'support-add-organisation-check')
      await clickAndWait(page, button(page, 'Confirm and add organisation'))
      await expectHeading(page, 'Organisations')
      await capturePlacements(page, 'support-organisation-added')
    }
    await page.goto(`${placements.url}/support/organisations?q=Oakwood`)
    const oakwood = page.locator('main').getByRole('link', { name: 'Oakwood Primary School', exact: true })
    if (await oakwood.count() > 0) {
      await clickAndWait(page, oakwood)
      await expectHeading(page, 'Oakwood Primary School')
      await capturePlacements(page, 'support-organisation')
    }
    if (await hasPage(page, '/support/support-users')) {
      await expectHeading(page, 'Support users')
      await capturePlacements(page, 'support-users')
    }
    if (await hasPage(page, '/support/audit')) {
      await expectHeading(page, 'Audit trail')
      await capturePlacements(page, 'support-audit')
    }
    await placements.context.db.insertInto('feedback').values({ at: new Date(), trying_to_do: 'Add a new teacher to our school', how_it_went: 'Easy once I found the organisation.\nI could not see how to change their email address.' }).execute()
    if (await hasPage(page, '/support/feedback')) {
      await expectHeading(page, 'Feedback')
      await capturePlacements(page, 'support-feedback')
    }
    await page.context().close()
  } finally {
    await services.close()
  }
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

    await clickAndWait(page, page.getByRole('link', { name: 'Resend the code', exact: true }))
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

    // The offer of an authenticator app, taken: the QR code and key, then the recovery codes.
    await clickAndWait(page, button(page, 'Set up an authenticator app'))
    await expectHeading(page, 'Set up an authenticator app')
    await capture(page, 'set-up-authenticator-app')
    const appSecret = (await page.locator('#secret-key').innerText()).replace(/\s/g, '')
    await page.locator('#code').fill(await nextAppCode(appSecret))
    await clickAndWait(page, button(page, 'Continue'))
    await expectHeading(page, 'Save your recovery codes')
    await capture(page, 'recovery-codes')
    const recoveryCodes = await page.locator('#recovery-codes li').allInnerTexts()
    // The journey ends where it started: in the service, signed in.
    await clickAndWait(page, button(page, 'I have saved my recovery codes'))
    await page.waitForURL(`${service.url}/`)
    if (!(await page.locator('main').innerText()).includes(`Signed in as ${corrected}`)) throw new Error('Not signed in at the service')
    await page.context().close()

    // Signing in again: the password, then the second factor (an emailed code).
    page = await newPage(browser, { javaScript: true })
    page.context().setDefaultTimeout(15_000)
    await page.goto(`${service.url}/sign-in`)
    await page.locator('#email').fill(corrected)
    await page.locator('#password').fill(password)
    await clickAndWait(page, button(page, 'Sign in'))
    await expectHeading(page, 'Enter the code from your authenticator app')
    await clickAndWait(page, page.getByRole('link', { name: 'Use another way to sign in' }))
    await page.getByLabel('Get a code by email').check()
    await clickAndWait(page, button(page, 'Continue'))
    await expectHeading(page, 'Check your email')
    await capture(page, 'sign-in-email-code')
    await page.locator('#code').fill('12345')
    await clickAndWait(page, button(page, 'Continue'))
    await expectErrorSummary(page)
    await capture(page, 'sign-in-email-code-error')
    await clickAndWait(page, page.getByRole('link', { name: 'Send a new code' }))
    await expectHeading(page, 'Get a new code')
    await capture(page, 'sign-in-email-code-resend')
    await clickAndWait(page, button(page, 'Send a new code'))
    await page.locator('#code').fill(await signin.latestCode(corrected))
    await clickAndWait(page, button(page, 'Continue'))
    await page.waitForURL(`${service.url}/`)
    await page.context().close()

    // Without the app: a recovery code, then the offer to review the factors.
    page = await newPage(browser, { javaScript: true })
    page.context().setDefaultTimeout(15_000)
    await page.goto(`${service.url}/sign-in`)
    await page.locator('#email').fill(corrected)
    await page.locator('#password').fill(password)
    await clickAndWait(page, button(page, 'Sign in'))
    await clickAndWait(page, page.getByRole('link', { name: 'Use another way to sign in' }))
    await page.getByLabel('Use a recovery code').check()
    await clickAndWait(page, button(page, 'Continue'))
    await expectHeading(page, 'Enter a recovery code')
    await capture(page, 'recovery-code')
    await page.locator('#code').fill(recoveryCodes[0]!.trim())
    await clickAndWait(page, button(page, 'Continue'))
    await expectHeading(page, 'You used a recovery code')
    await capture(page, 'recovery-code-used')
    await clickAndWait(page, button(page, `Continue to ${serviceName}`))
    await page.waitForURL(`${service.url}/`)

    // Your account at Sign-in, still signed in there: details, changes (with errors), sign out everywhere.
    await page.goto(`${signin.url}/account`)
    await expectHeading(page, 'Your account')
    await capture(page, 'your-account')
    await clickAndWait(page, page.getByRole('link', { name: 'Change name' }))
    await expectHeading(page, 'Change your name')
    await capture(page, 'change-name')
    await page.locator('#givenName').fill('')
    await clickAndWait(page, button(page, 'Save name'))
    await expectErrorSummary(page)
    await capture(page, 'change-name-error')
    await page.goto(`${signin.url}/account/change-password`)
    await expectHeading(page, 'Change your password')
    await capture(page, 'change-password')
    await page.locator('#currentPassword').fill('not the password')
    await clickAndWait(page, button(page, 'Change password'))
    await expectErrorSummary(page)
    await capture(page, 'change-password-error')
    // Signing in again is what a change page leads to after 15 minutes; the page itself can be opened any time.
    await page.goto(`${signin.url}/account/sign-in-again?return=/account/change-name`)
    await expectHeading(page, 'Sign in again to change your account')
    await capture(page, 'sign-in-again')
    await page.goto(`${signin.url}/account/change-email`)
    await expectHeading(page, 'Change your email address')
    await capture(page, 'change-email')
    await clickAndWait(page, button(page, 'Continue'))
    await expectErrorSummary(page)
    await capture(page, 'change-email-error')
    await page.locator('#email').fill('a.new.address@example.org')
    await clickAndWait(page, button(page, 'Continue'))
    await expectHeading(page, 'Check your email')
    await capture(page, 'change-email-code')
    await clickAndWait(page, page.getByRole('link', { name: 'Send a new code' }))
    await expectHeading(page, 'Get a new code')
    await capture(page, 'change-email-resend')
    await page.goto(`${signin.url}/account/authenticator-app`)
    await expectHeading(page, 'Replace your authenticator app')
    await capture(page, 'authenticator-app')
    await page.goto(`${signin.url}/account/authenticator-app/remove`)
    await expectHeading(page, 'Are you sure you want to remove your authenticator app?')
    await capture(page, 'remove-authenticator-app')
    await page.goto(`${signin.url}/account/recovery-codes`)
    await expectHeading(page, 'Get new recovery codes')
    await capture(page, 'get-new-recovery-codes')
    await page.goto(`${signin.url}/account`)
    await clickAndWait(page, button(page, 'Sign out of every device and service'))
    await expectHeading(page, "You've been signed out everywhere")
    await capture(page, 'signed-out-everywhere')
    await page.goto(`${signin.url}/account`)
    await expectHeading(page, 'Sign in to see your account')
    await capture(page, 'your-account-not-signed-in')
    await page.context().close()

    await placementsScreenshots(browser)
    await passkeyScreenshots(browser, signin, service.url, capture)
    await servicePageScreenshots(browser, capture)
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
