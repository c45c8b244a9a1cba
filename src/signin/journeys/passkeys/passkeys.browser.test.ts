import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { button, clickAndWait, expectAccessible, heading, openPage } from '../../../../test/support/browser.ts'
import type { TestSignin } from '../../../../test/support/signin.ts'
import { addAccount } from '../../../../test/support/signin-pages.ts'
import { signInInBrowser } from '../../../../test/support/sign-in-steps.ts'
import type { TestClient } from '../../../../test/support/test-client.ts'
import { startBrowserRig, type BrowserRig } from '../../../../test/support/browser-rig.ts'
import { addVirtualAuthenticator } from '../../../../test/support/virtual-authenticator.ts'
import { addMessages } from '../../your-account/passkeys.ts'
import { challengeLimits } from '../../accounts/passkey-challenge-limit.ts'
import { passkeySignInMessages } from './routes.ts'

/**
 * Passkeys in Chromium (ADR 12), with Chrome's virtual authenticator (through the DevTools
 * protocol: a platform authenticator with resident keys and user verification, as a phone
 * or laptop has). A person adds a passkey from Your account, signs in with it alone and
 * lands in the service, then uses it as the second factor after their password. Every new
 * page state is checked with axe and at 320 px. Without JavaScript, no passkey control shows.
 */
let browser: Browser
let signin: TestSignin
let service: TestClient
const password = 'passkey-browser-password-long-enough'

let rig: BrowserRig
before(async () => {
  rig = await startBrowserRig()
  signin = rig.signin
  service = rig.service
  browser = rig.browser
}, { timeout: 60_000 })
after(() => rig?.close(), { timeout: 60_000 })

async function startAtService(page: Page): Promise<void> {
  await page.goto(`${service.url}/`)
  await clickAndWait(page, page.getByRole('link', { name: 'Sign in', exact: true }))
  assert.match(await heading(page), /Sign in$/)
}

async function emailedCode(email: string): Promise<string> {
  return signin.latestCode(email)
}

async function expectSignedInAtService(page: Page, email: string): Promise<void> {
  await page.waitForURL(`${service.url}/`)
  assert.match(await page.locator('main').innerText(), new RegExp(`Signed in as ${email.replace(/[.]/g, '\\.')}`))
}

test('a passkey added from Your account signs in alone and lands in the service, and is asked for after a password', { timeout: 240_000 }, async () => {
  const email = 'passkey.person@example.com'
  await addAccount(signin.context.db, { email, password, givenName: 'Priya', familyName: 'Shah' })
  const page = await openPage(browser, true)
  try {
    const authenticator = await addVirtualAuthenticator(page)
    // Signed in with a password and an emailed code, as today.
    await startAtService(page)
    await expectAccessible(page, 'sign in, with the passkey button')
    assert.ok(await button(page, 'Sign in with a passkey').isVisible())
    await signInInBrowser(page, { email, password }, () => emailedCode(email))
    await expectSignedInAtService(page, email)

    // Your account: no passkey yet; add one.
    await page.goto(`${signin.url}/account`)
    assert.match(await page.locator('main').innerText(), /You have not added a passkey/)
    await clickAndWait(page, page.getByRole('link', { name: 'Add a passkey' }))
    assert.equal(await heading(page), 'Add a passkey')
    await expectAccessible(page, 'your account: add a passkey')
    // The fingerprint or PIN fails: the GOV.UK error, and nothing added.
    await authenticator.setUserVerified(false)
    await clickAndWait(page, button(page, 'Create a passkey'))
    assert.match(await page.title(), /^Error: /)
    assert.equal(await page.locator('.govuk-error-summary a').innerText(), addMessages.missing)
    await expectAccessible(page, 'your account: add a passkey, not created')
    await authenticator.setUserVerified(true)
    await page.locator('#name').fill('Work laptop')
    await clickAndWait(page, button(page, 'Create a passkey'))
    assert.equal(await heading(page), 'Save your recovery codes')
    assert.equal(await page.locator('#recovery-codes li').count(), 10)
    await expectAccessible(page, 'your account: passkey added, recovery codes')
    await clickAndWait(page, page.getByRole('button', { name: 'I have saved my recovery codes' }))
    const listed = await page.locator('main').innerText()
    assert.match(listed, /Work laptop/)
    assert.match(listed, /Not used yet/)
    await expectAccessible(page, 'your account: with a passkey')

    // Signed out of Sign-in and the service (cookies gone), then in again with the passkey alone.
    await page.context().clearCookies()
    await startAtService(page)
    await clickAndWait(page, button(page, 'Sign in with a passkey'))
    await expectSignedInAtService(page, email)

    // With a password, the passkey is asked for first (the emailed code remains another way).
    await page.context().clearCookies()
    await startAtService(page)
    await page.locator('#email').fill(email)
    await page.locator('#password').fill(password)
    await clickAndWait(page, button(page, 'Sign in'))
    assert.equal(await heading(page), 'Use your passkey')
    await expectAccessible(page, 'second factor: use your passkey')
    await clickAndWait(page, page.getByRole('link', { name: 'Use another way to sign in' }))
    assert.equal(await heading(page), 'How do you want to sign in?')
    assert.ok(await page.getByRole('button', { name: 'Use a passkey' }).isVisible())
    await expectAccessible(page, 'second factor: choose, with a passkey')
    await clickAndWait(page, page.getByRole('button', { name: 'Use a passkey' }))
    await clickAndWait(page, button(page, 'Use your passkey'))
    await expectSignedInAtService(page, email)

    // Your account shows when it was last used; removing it asks first.
    await page.goto(`${signin.url}/account`)
    assert.doesNotMatch(await page.locator('main').innerText(), /Not used yet/)
    await clickAndWait(page, page.getByRole('link', { name: /Remove passkey/ }))
    assert.equal(await heading(page), 'Are you sure you want to remove ‘Work laptop’?')
    await expectAccessible(page, 'your account: remove a passkey')
    await clickAndWait(page, button(page, 'Remove passkey'))
    assert.match(await page.locator('main').innerText(), /Passkey removed/)
    assert.match(await page.locator('main').innerText(), /You have not added a passkey/)
  } finally {
    await page.context().close()
  }
})

test('a passkey is offered first after creating an account; without JavaScript no passkey control shows', { timeout: 240_000 }, async () => {
  const page = await openPage(browser, true)
  try {
    await addVirtualAuthenticator(page)
    const email = 'new.passkey@example.com'
    await startAtService(page)
    await clickAndWait(page, page.getByRole('link', { name: /create .*account/i }))
    await page.locator('#givenName').fill('Noor')
    await page.locator('#familyName').fill('Ali')
    await page.locator('#email').fill(email)
    await clickAndWait(page, button(page, 'Continue'))
    await page.locator('#code').fill(await emailedCode(email))
    await clickAndWait(page, button(page, 'Continue'))
    await page.locator('#password').fill('a long phrase nobody else would pick 2026')
    await page.locator('#confirmPassword').fill('a long phrase nobody else would pick 2026')
    await clickAndWait(page, button(page, 'Create account'))
    assert.ok(await button(page, 'Add a passkey').isVisible())
    await expectAccessible(page, 'account created, with the passkey offer')
    await clickAndWait(page, button(page, 'Add a passkey'))
    assert.equal(await heading(page), 'Add a passkey')
    await expectAccessible(page, 'sign-in journey: add a passkey')
    await clickAndWait(page, button(page, 'Create a passkey'))
    assert.equal(await heading(page), 'Save your recovery codes')
    await clickAndWait(page, button(page, 'I have saved my recovery codes'))
    await expectSignedInAtService(page, email)
  } finally {
    await page.context().close()
  }

  const noScript = await openPage(browser, false)
  try {
    await noScript.goto(`${service.url}/`)
    await clickAndWait(noScript, noScript.getByRole('link', { name: 'Sign in', exact: true }))
    assert.equal(await noScript.getByRole('button', { name: 'Sign in with a passkey' }).count(), 0, 'hidden without JavaScript')
    assert.ok(await button(noScript, 'Sign in').isVisible())
  } finally {
    await noScript.context().close()
  }
})

test('after 10 passkey requests in one sign-in, the passkey button says to wait 5 minutes instead of failing silently', { timeout: 120_000 }, async () => {
  const page = await openPage(browser, true)
  try {
    await startAtService(page)
    const optionsUrl = await page.locator('form[data-passkey]').first().getAttribute('data-options-url')
    assert.ok(optionsUrl)
    const statuses = await page.evaluate(async ({ url, count }) => {
      const replies = []
      for (let i = 0; i < count; i++) replies.push((await fetch(url, { credentials: 'same-origin' })).status)
      return replies
    }, { url: optionsUrl, count: challengeLimits.perSession })
    assert.deepEqual(statuses, Array(challengeLimits.perSession).fill(200))
    await clickAndWait(page, button(page, 'Sign in with a passkey'))
    assert.match(await page.title(), /^Error: /)
    assert.equal(await page.locator('.govuk-error-summary a').innerText(), passkeySignInMessages.limit)
    await expectAccessible(page, 'sign in: too many passkey requests')
  } finally {
    await page.context().close()
  }
})
