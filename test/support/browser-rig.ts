import type { Browser } from 'playwright-core'
import type { Clock } from '../../src/platform/clock.ts'
import { launchBrowser } from './browser.ts'
import { startTestSignin, type TestSignin } from './signin.ts'
import { startTestClient, type TestClient } from './test-client.ts'

/** What a Sign-in browser test file runs against: Sign-in, a service signing people in with it, and Chromium. */
export interface BrowserRig { signin: TestSignin, service: TestClient, browser: Browser, close(): Promise<void> }

/**
 * Starts Sign-in (on `clock`), lets `prepare` add what the file needs before anyone signs
 * in (the demo accounts, say), registers a test service as its client, and launches
 * Chromium. Call from the file's `before`; `close` from its `after`.
 */
export async function startBrowserRig(options: { clock?: Clock, serviceName?: string, prepare?: (signin: TestSignin) => Promise<void> } = {}): Promise<BrowserRig> {
  const signin = await startTestSignin(options.clock ? { clock: options.clock } : {})
  await options.prepare?.(signin)
  const clientId = 'test-service'
  const clientSecret = 'test-service-secret-0123456789abcdef'
  // The service's URL (and so its redirect URI) is known once it listens; registering is a
  // database row read at each request, so it can follow.
  const service = await startTestClient({ issuer: signin.url, clientId, clientSecret })
  await signin.registerTestClient({ baseUrl: service.url, clientId, secret: clientSecret, name: options.serviceName ?? 'Test service' })
  const browser = await launchBrowser()
  return {
    signin, service, browser,
    async close() {
      await browser.close()
      await service.close()
      await signin.close()
    }
  }
}
