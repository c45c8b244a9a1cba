import type { Browser, Locator, Page } from 'playwright-core'
import { newPage } from '../test/support/browser.ts'
import { addAccount } from '../test/support/signin-pages.ts'
import { signInInBrowser } from '../test/support/sign-in-steps.ts'
import type { TestSignin } from '../test/support/signin.ts'
import { addVirtualAuthenticator } from '../test/support/virtual-authenticator.ts'

type Capture = (page: Page, state: string) => Promise<void>

async function clickAndWait(page: Page, target: Locator): Promise<void> {
  const navigated = page.waitForNavigation({ waitUntil: 'load' })
  await target.click()
  await navigated
}

async function expectHeading(page: Page, text: string): Promise<void> {
  const actual = (await page.locator('h1').first().innerText()).replace(/\s+/g, ' ').trim()
  if (actual !== text) throw new Error(`Expected the page "${text}", got "${actual}" at ${page.url()}`)
}

/**
 * The passkey page states (ADR 12, docs/journeys.md "Passkeys"), with Chromium's virtual
 * authenticator: a person signs in with a password and an emailed code, adds a passkey in
 * Your account (once failing the fingerprint), sees the recovery codes and the list, signs
 * in again with a password and is asked for the passkey, then removes it.
 */
export async function passkeyScreenshots(browser: Browser, signin: TestSignin, serviceUrl: string, capture: Capture): Promise<void> {
  const email = 'priya.shah@example.com'
  const password = 'correct horse battery staple 2026'
  await addAccount(signin.context.db, { email, password, givenName: 'Priya', familyName: 'Shah' })
  const page = await newPage(browser, { javaScript: true })
  page.context().setDefaultTimeout(15_000)
  const button = (name: string) => page.getByRole('button', { name, exact: true })
  const signInWithPassword = async () => {
    await page.goto(`${serviceUrl}/sign-in`)
    await page.locator('#email').fill(email)
    await page.locator('#password').fill(password)
    await clickAndWait(page, button('Sign in'))
  }
  try {
    const authenticator = await addVirtualAuthenticator(page)
    await page.goto(`${serviceUrl}/sign-in`)
    await signInInBrowser(page, { email, password }, () => signin.latestCode(email))
    await page.waitForURL(`${serviceUrl}/`)

    await page.goto(`${signin.url}/account/passkeys/add`)
    await expectHeading(page, 'Add a passkey')
    await capture(page, 'add-passkey')
    await authenticator.setUserVerified(false)
    await clickAndWait(page, button('Create a passkey'))
    await capture(page, 'add-passkey-error')
    await authenticator.setUserVerified(true)
    await page.locator('#name').fill('Work laptop')
    await clickAndWait(page, button('Create a passkey'))
    await expectHeading(page, 'Save your recovery codes')
    await capture(page, 'passkey-recovery-codes')
    await clickAndWait(page, button('I have saved my recovery codes'))
    await expectHeading(page, 'Your account')
    await capture(page, 'your-account-passkeys')

    // Signing in again before a change (what a change page leads to after 15 minutes; the page
    // itself can be opened any time): with a passkey, it is offered first, the password remaining.
    await page.goto(`${signin.url}/account/sign-in-again?return=/account/passkeys/add`)
    await expectHeading(page, 'Sign in again to change your account')
    if (!await button('Use your passkey').isVisible()) throw new Error(`Expected the passkey offered at ${page.url()}`)
    await capture(page, 'sign-in-again-passkey')

    // A new sign-in with the password: the passkey is asked for first.
    await page.context().clearCookies()
    await signInWithPassword()
    await expectHeading(page, 'Use your passkey')
    await capture(page, 'sign-in-passkey')
    await clickAndWait(page, page.getByRole('link', { name: 'Use another way to sign in' }))
    await capture(page, 'choose-factor-passkey')
    await clickAndWait(page, button('Use a passkey'))
    await clickAndWait(page, button('Use your passkey'))
    await page.waitForURL(`${serviceUrl}/`)

    await page.goto(`${signin.url}/account`)
    await clickAndWait(page, page.getByRole('link', { name: /Remove passkey/ }))
    await capture(page, 'remove-passkey')
    await clickAndWait(page, button('Remove passkey'))
  } finally {
    await page.context().close()
  }
}
