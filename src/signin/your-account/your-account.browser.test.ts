import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { button, clickAndWait, expectAccessible, heading, openPage } from '../../../test/support/browser.ts'
import { expectServiceChrome } from '../../../test/support/service-chrome.ts'
import type { TestSignin } from '../../../test/support/signin.ts'
import { addAccount } from '../../../test/support/signin-pages.ts'
import { signInInBrowser } from '../../../test/support/sign-in-steps.ts'
import type { TestClient } from '../../../test/support/test-client.ts'
import { startBrowserRig, type BrowserRig } from '../../../test/support/browser-rig.ts'
import { FakeClock } from '../../platform/clock.ts'
import { appCodeAt } from '../accounts/authenticator-app.ts'
import { appMessages } from '../journeys/second-factor/checks.ts'
import { addVirtualAuthenticator } from '../../../test/support/virtual-authenticator.ts'
import { passkeyMessages } from '../journeys/passkeys/routes.ts'
import { changeEmailMessages } from './change-email.ts'

/**
 * Your account's changes in Chromium, with and without JavaScript: changing the email
 * address, setting up, replacing and removing the authenticator app, new recovery codes,
 * and signing in again after 15 minutes (the injected clock moves; nobody waits), with a
 * passkey too (Chrome's virtual authenticator). Every
 * page state, with its errors, is checked with axe and at 320 px.
 */
let browser: Browser
let signin: TestSignin
let service: TestClient
const clock = new FakeClock(new Date())

let rig: BrowserRig
before(async () => {
  rig = await startBrowserRig({ clock })
  signin = rig.signin
  service = rig.service
  browser = rig.browser
}, { timeout: 60_000 })
after(() => rig?.close(), { timeout: 60_000 })

async function expectPage(page: Page, expected: string): Promise<void> {
  assert.equal(await heading(page), expected, `on ${page.url()}`)
  assert.equal(await page.locator('.govuk-error-summary').count(), 0, 'no error summary')
  await expectServiceChrome(page)
}

async function expectError(page: Page, field: string, message: string): Promise<void> {
  assert.match(await page.title(), /^Error: /)
  assert.equal((await page.locator('.govuk-error-summary__list a').first().innerText()).trim(), message)
  assert.equal((await page.locator('.govuk-error-summary__list a').first().getAttribute('href')), `#${field}`)
}

async function code(email: string): Promise<string> {
  const found = (await signin.latestEmail(email))?.body.match(/\b(\d{6})\b/)?.[1]
  assert.ok(found, `a code emailed to ${email}`)
  return found
}

/** From the test service's start page, through Sign-in (password and emailed code), back to the service. */
async function signInAtService(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${service.url}/`)
  await clickAndWait(page, page.getByRole('link', { name: 'Sign in', exact: true }))
  await signInInBrowser(page, { email, password }, () => code(email))
  await page.waitForURL(`${service.url}/`)
}

async function secretOnPage(page: Page): Promise<string> {
  return (await page.locator('#secret-key').innerText()).replace(/\s/g, '')
}

for (const javaScript of [true, false]) {
  const mode = javaScript ? 'with JavaScript' : 'without JavaScript'
  const tag = javaScript ? 'js' : 'nojs'

  describe(`Your account's changes ${mode}`, () => {
    it('changes the email address, sets up, replaces and removes an app, gets new codes, and signs in again after 15 minutes', { timeout: 300_000 }, async () => {
      const page = await openPage(browser, javaScript)
      let moved = 0
      try {
        const email = `zed.changes.${tag}@example.com`
        const newEmail = `zed.moved.${tag}@example.org`
        const password = 'the password of this account 2026'
        await addAccount(signin.context.db, { email, password, givenName: 'Zed', familyName: 'Changes' }, clock.now())
        await signInAtService(page, email, password)

        // Change the email address.
        await page.goto(`${signin.url}/account`)
        await clickAndWait(page, page.getByRole('link', { name: 'Change email address' }))
        await expectPage(page, 'Change your email address')
        await expectAccessible(page, `${mode}: change email address`)
        await page.locator('#email').fill(email)
        await clickAndWait(page, button(page, 'Continue'))
        await expectError(page, 'email', changeEmailMessages.same)
        await expectAccessible(page, `${mode}: change email address, the current one`)
        await page.locator('#email').fill(newEmail)
        await clickAndWait(page, button(page, 'Continue'))
        await expectPage(page, 'Check your email')
        await expectAccessible(page, `${mode}: change email address, check your email`)
        await clickAndWait(page, button(page, 'Change email address'))
        await expectError(page, 'code', 'Enter the code')
        await expectAccessible(page, `${mode}: change email address, no code`)
        await clickAndWait(page, page.getByRole('link', { name: 'Send a new code' }))
        await expectPage(page, 'Get a new code')
        await expectAccessible(page, `${mode}: change email address, get a new code`)
        await clickAndWait(page, button(page, 'Send a new code'))
        assert.match(await page.locator('.govuk-notification-banner').innerText(), /We've sent a new code/)
        await expectAccessible(page, `${mode}: change email address, new code sent`)
        await page.locator('#code').fill(await code(newEmail))
        await clickAndWait(page, button(page, 'Change email address'))
        await expectPage(page, 'Your account')
        assert.match(await page.locator('.govuk-notification-banner').innerText(), /Your email address has been changed/)
        await expectAccessible(page, `${mode}: your account, email changed`)

        // Set up an app.
        await clickAndWait(page, page.getByRole('link', { name: 'Set up an authenticator app' }))
        await expectPage(page, 'Set up an authenticator app')
        await expectAccessible(page, `${mode}: set up an app from your account`)
        const secret = await secretOnPage(page)
        const now = appCodeAt(secret, clock.now())
        await page.locator('#code').fill(now === '000000' ? '111111' : '000000')
        await clickAndWait(page, button(page, 'Set up app'))
        await expectError(page, 'code', appMessages.incorrect)
        await expectAccessible(page, `${mode}: set up an app from your account, wrong code`)
        await page.locator('#code').fill(now)
        await clickAndWait(page, button(page, 'Set up app'))
        await expectPage(page, 'Save your recovery codes')
        await expectAccessible(page, `${mode}: recovery codes from your account`)
        const firstCode = (await page.locator('#recovery-codes li').first().innerText()).trim()
        await clickAndWait(page, button(page, 'I have saved my recovery codes'))
        await expectPage(page, 'Your account')

        // 16 minutes later: a change asks for the password and the app, then comes back.
        clock.advanceSeconds(16 * 60)
        moved = 16 * 60
        await clickAndWait(page, page.getByRole('link', { name: 'Get new codes' }))
        await expectPage(page, 'Sign in again to change your account')
        await expectAccessible(page, `${mode}: sign in again`)
        await clickAndWait(page, button(page, 'Continue'))
        await expectError(page, 'password', 'Enter your password')
        await expectAccessible(page, `${mode}: sign in again, no password`)
        await page.locator('#password').fill(password)
        await clickAndWait(page, button(page, 'Continue'))
        await expectPage(page, 'Enter the code from your authenticator app')
        await expectAccessible(page, `${mode}: sign in again, app code`)
        await clickAndWait(page, page.getByRole('link', { name: 'Use another way to sign in' }))
        await expectPage(page, 'How do you want to sign in?')
        await expectAccessible(page, `${mode}: sign in again, choose how`)
        await page.getByLabel('Use a recovery code').check()
        await clickAndWait(page, button(page, 'Continue'))
        await expectPage(page, 'Enter a recovery code')
        await page.locator('#code').fill('abcde-abcde')
        await clickAndWait(page, button(page, 'Continue'))
        assert.match(await page.title(), /^Error: /)
        await expectAccessible(page, `${mode}: sign in again, wrong recovery code`)
        await page.locator('#code').fill(firstCode)
        await clickAndWait(page, button(page, 'Continue'))
        await expectPage(page, 'Get new recovery codes')
        await expectAccessible(page, `${mode}: get new recovery codes`)
        await clickAndWait(page, button(page, 'Get new recovery codes'))
        await expectPage(page, 'Save your recovery codes')
        await clickAndWait(page, button(page, 'I have saved my recovery codes'))
        assert.match(await page.locator('.govuk-notification-banner').innerText(), /You have new recovery codes/)

        // Replace the app, then remove it.
        await clickAndWait(page, page.getByRole('link', { name: 'Replace authenticator app' }))
        await expectPage(page, 'Replace your authenticator app')
        await expectAccessible(page, `${mode}: replace your app`)
        const newSecret = await secretOnPage(page)
        await page.locator('#code').fill(appCodeAt(newSecret, clock.now()))
        await clickAndWait(page, button(page, 'Replace app'))
        await expectPage(page, 'Save your recovery codes')
        await clickAndWait(page, button(page, 'I have saved my recovery codes'))
        await clickAndWait(page, page.getByRole('link', { name: 'Remove authenticator app' }))
        await expectPage(page, 'Are you sure you want to remove your authenticator app?')
        await expectAccessible(page, `${mode}: remove your app`)
        await clickAndWait(page, button(page, 'Remove authenticator app'))
        await expectPage(page, 'Your account')
        assert.match(await page.locator('main').innerText(), /Authenticator app\s+Not set up/)
        await expectAccessible(page, `${mode}: your account, app removed`)
      } finally {
        // Sign-in's provider stamps sessions with the real time: the next run starts level with it.
        clock.advanceSeconds(-moved)
        await page.context().close()
      }
    })
  })
}

it('signs in again with a passkey alone after 16 minutes, back to adding a passkey or removing one', { timeout: 300_000 }, async () => {
  const page = await openPage(browser, true)
  let moved = 0
  try {
    const authenticator = await addVirtualAuthenticator(page)
    const email = 'pia.passkey.again@example.com'
    const password = 'the password of the passkey account 2026'
    await addAccount(signin.context.db, { email, password, givenName: 'Pia', familyName: 'Again' }, clock.now())
    await signInAtService(page, email, password)
    await page.goto(`${signin.url}/account/passkeys/add`)
    await page.locator('#name').fill('Laptop')
    await clickAndWait(page, button(page, 'Create a passkey'))
    await expectPage(page, 'Save your recovery codes')
    await clickAndWait(page, button(page, 'I have saved my recovery codes'))

    // 16 minutes later (than the provider's real-time stamp of the sign-in): adding another passkey asks to sign in again, passkey first.
    const later = Math.round((Date.now() - clock.now().getTime()) / 1000) + 16 * 60
    clock.advanceSeconds(later)
    moved += later
    await clickAndWait(page, page.getByRole('link', { name: 'Add a passkey' }))
    await expectPage(page, 'Sign in again to change your account')
    assert.ok(await button(page, 'Use your passkey').isVisible())
    assert.ok(await page.locator('#password').isVisible(), 'the password remains another way')
    await expectAccessible(page, 'sign in again, with a passkey')
    // The fingerprint or PIN fails: the GOV.UK error, still here.
    await authenticator.setUserVerified(false)
    await clickAndWait(page, button(page, 'Use your passkey'))
    await expectError(page, 'passkey', passkeyMessages.missing)
    await expectAccessible(page, 'sign in again, passkey not used')
    await authenticator.setUserVerified(true)
    await clickAndWait(page, button(page, 'Use your passkey'))
    // Back to the change asked for, which a passkey allows (not "sign in with your passkey or app").
    await expectPage(page, 'Add a passkey')
    await expectAccessible(page, 'add a passkey after signing in again with one')

    // Another 16 minutes: removing it signs in again with it, then asks to confirm.
    clock.advanceSeconds(16 * 60)
    moved += 16 * 60
    await page.goto(`${signin.url}/account`)
    await clickAndWait(page, page.getByRole('link', { name: /Remove passkey/ }))
    await expectPage(page, 'Sign in again to change your account')
    await clickAndWait(page, button(page, 'Use your passkey'))
    await expectPage(page, 'Are you sure you want to remove ‘Laptop’?')
    assert.match(page.url(), /\/account\/passkeys\/[0-9a-f-]{36}\/remove$/)
  } finally {
    clock.advanceSeconds(-moved)
    await page.context().close()
  }
})
