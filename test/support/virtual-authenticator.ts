import type { CDPSession, Page } from 'playwright-core'

/**
 * Chromium's virtual authenticator for this page (DevTools protocol `WebAuthn`): a platform
 * authenticator with resident keys and user verification that always succeeds, as Touch ID,
 * Windows Hello or a phone's screen lock would. Passkeys made on the page live in it.
 */
export async function addVirtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
  })
  return new VirtualAuthenticator(cdp, authenticatorId)
}

export class VirtualAuthenticator {
  readonly cdp: CDPSession
  readonly id: string
  constructor(cdp: CDPSession, id: string) {
    this.cdp = cdp
    this.id = id
  }

  /** False: the person fails the fingerprint or PIN (the browser then refuses the ceremony). */
  async setUserVerified(verified: boolean): Promise<void> {
    await this.cdp.send('WebAuthn.setUserVerified', { authenticatorId: this.id, isUserVerified: verified })
  }
}
