import type { Locator, Page } from 'playwright-core'
import { addVirtualAuthenticator } from '../test/support/virtual-authenticator.ts'

type Capture = (page: Page, state: string) => Promise<void>

async function clickAndWait(page: Page, target: Locator): Promise<void> {
  const navigated = page.waitForNavigation({ waitUntil: 'load' })
  await target.click()
  await navigated
}

/**
 * Passkeys in Your account (ADR 12, docs/journeys.md "Passkeys"), for someone signed in at
 * Sign-in within the last 15 minutes: add one (Chromium's virtual authenticator answers),
 * the recovery codes, the list, the removal question. Leaves the passkey removed.
 */
export async function passkeyScreenshots(page: Page, signinUrl: string, capture: Capture): Promise<void> {
  await addVirtualAuthenticator(page)
  await page.goto(`${signinUrl}/account/passkeys/add`)
  await capture(page, 'add-passkey')
  await page.locator('#name').fill('Work laptop')
  await clickAndWait(page, page.getByRole('button', { name: 'Create a passkey', exact: true }))
  await capture(page, 'passkey-recovery-codes')
  await clickAndWait(page, page.getByRole('button', { name: 'I have saved my recovery codes' }))
  await capture(page, 'your-account-passkeys')
  await clickAndWait(page, page.getByRole('link', { name: /Remove passkey/ }))
  await capture(page, 'remove-passkey')
  await clickAndWait(page, page.getByRole('button', { name: 'Remove passkey', exact: true }))
}
