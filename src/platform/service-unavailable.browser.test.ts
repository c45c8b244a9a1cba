import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { startRedisServer, type RedisServer } from '../../test/support/backing-servers.ts'
import { expectAccessible, heading, launchBrowser, openPage } from '../../test/support/browser.ts'
import { startTestServices, type TestServices } from '../../test/support/placements.ts'
import { expectServiceChrome } from '../../test/support/service-chrome.ts'

/**
 * The GOV.UK "Sorry, the service is unavailable" page, as people meet it: both services
 * keep their sessions in a Redis of the test's own, which is then stopped. Checked with
 * axe (WCAG 2.2 AA), with and without JavaScript, and at 320 CSS pixels wide.
 */
let browser: Browser
let redis: RedisServer
let services: TestServices

before(async () => {
  redis = await startRedisServer()
  // startTestServices puts short-lived state in REDIS_URL's Redis when it is set.
  process.env.REDIS_URL = redis.url
  services = await startTestServices()
  browser = await launchBrowser()
  await redis.stop()
})
after(async () => {
  await browser?.close()
  await services?.close()
  await redis?.destroy()
})

async function expectUnavailablePage(page: Page, url: string, serviceName: string, label: string): Promise<void> {
  const response = await page.goto(url)
  assert.equal(response?.status(), 503, label)
  assert.ok(Number(response?.headers()['retry-after']) > 0, `${label}: Retry-After`)
  assert.equal(await page.title(), `Sorry, the service is unavailable – ${serviceName} – GOV.UK`)
  assert.equal(await heading(page), 'Sorry, the service is unavailable')
  assert.match(await page.locator('main').innerText(), /Wait a few minutes, then reload this page/)
  assert.match(await page.locator('main').innerText(), /If you need help urgently, email the support team\.\s+Email: \S+@example\.com/, `${label}: the support address`)
  await expectServiceChrome(page)
  // axe, then 320 px wide without sideways scrolling (WCAG 1.4.10): both in expectAccessible.
  await expectAccessible(page, label)
}

for (const javaScript of [true, false]) {
  const mode = javaScript ? 'with JavaScript' : 'without JavaScript'

  test(`Placements' service unavailable page is accessible and fits 320 px, ${mode}`, async () => {
    const page = await openPage(browser, javaScript)
    await expectUnavailablePage(page, `${services.placements.url}/sign-in`, 'Manage school placements', `Placements, ${mode}`)
    await page.context().close()
  })

  test(`Sign-in's service unavailable page (from the OpenID Provider's own endpoint) is accessible and fits 320 px, ${mode}`, async () => {
    const page = await openPage(browser, javaScript)
    const placements = services.placements.url
    const authorize = `${services.signin.url}/auth?client_id=manage-school-placements&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${placements}/auth/callback`)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s&nonce=n`
    await expectUnavailablePage(page, authorize, 'DfE Sign-in', `Sign-in, ${mode}`)
    await page.context().close()
  })
}
