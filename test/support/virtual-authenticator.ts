import type { Page } from 'playwright-core'

/**
 * Chromium's virtual authenticator for this page (DevTools protocol `WebAuthn`): a platform
 * authenticator with resident keys and user verification that always succeeds, as Touch ID,
 * Windows Hello or a phone's screen lock would. Passkeys made on the page live in it.
 */
export async function addVirtualAuthenticator(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
  })
}
