import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'

/**
 * What every page of both services carries (issue 8): the beta phase banner with its
 * feedback link, and in the footer the links to help, cookies, the accessibility
 * statement, the privacy notice and the terms of use, and "Get help" with the support
 * address. Call it wherever a test checks a page, so no page state can lose them.
 */
export async function expectServiceChrome(page: Page): Promise<void> {
  const where = `on ${page.url()}`
  const banner = page.locator('header .govuk-phase-banner')
  assert.equal((await banner.locator('.govuk-phase-banner__content__tag').innerText()).trim(), 'Beta', `${where}: the beta banner`)
  assert.equal(await banner.getByRole('link', { name: 'give your feedback (opens in new tab)' }).getAttribute('href'), '/feedback', `${where}: the banner's feedback link`)
  const footer = page.locator('footer')
  for (const [name, href] of [['Help', '/help'], ['Cookies', '/cookies'], ['Accessibility statement', '/accessibility-statement'], ['Privacy notice', '/privacy-notice'], ['Terms of use', '/terms-of-use']]) {
    assert.equal(await footer.getByRole('link', { name, exact: true }).getAttribute('href'), href, `${where}: the footer links to ${name}`)
  }
  assert.equal(await footer.getByRole('heading', { name: 'Get help' }).count(), 1, `${where}: the footer's Get help`)
  assert.match(await footer.locator('a[href^="mailto:"]').first().getAttribute('href') ?? '', /^mailto:[^@\s]+@[^@\s]+$/, `${where}: the support address`)
}
