import { AssertionError } from 'node:assert'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { AxeBuilder } from '@axe-core/playwright'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
export const screenshotsDir = `${repoRoot}screenshots`

// The WCAG levels GOV.UK services must meet; no rule is disabled on purpose.
const axeTags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']

// Debian's Chromium rather than a Playwright download: nothing is fetched at test time.
// The extra switches stop Chromium phoning home, which slows start-up and adds noise offline.
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic'
    ]
  })
}

// A fresh context per page so cookies never leak between journeys.
export async function newPage(browser: Browser, options: { javaScript: boolean }): Promise<Page> {
  const context = await browser.newContext({
    javaScriptEnabled: options.javaScript,
    viewport: { width: 1024, height: 800 }
  })
  return context.newPage()
}

export async function expectAccessible(page: Page, label: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(axeTags).analyze()
  if (results.violations.length === 0) return
  const lines = results.violations.map((violation) => {
    const targets = violation.nodes.slice(0, 3).map((node) => JSON.stringify(node.target)).join(', ')
    return `- ${violation.id} (${violation.impact ?? 'unknown impact'}): ${violation.help} at ${targets}`
  })
  throw new AssertionError({
    message: `Accessibility violations on "${label}" (${page.url()}):\n${lines.join('\n')}`
  })
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotsDir, { recursive: true })
  const path = `${screenshotsDir}/${name}.png`
  await page.screenshot({ path, fullPage: true })
  return path
}
