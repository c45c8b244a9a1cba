import { AssertionError } from 'node:assert'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { AxeBuilder } from '@axe-core/playwright'
import { chromium } from 'playwright-core'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
export const screenshotsDir = `${repoRoot}screenshots`

// The WCAG levels GOV.UK services must meet; no rule is disabled on purpose. The best-practice
// `region` rule is added: every piece of content must sit in a landmark (header, main, footer).
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

const viewport = { width: 1024, height: 800 }
const contextsWithoutScripts = new WeakSet<BrowserContext>()

// A fresh context per page so cookies never leak between journeys.
export async function newPage(browser: Browser, options: { javaScript: boolean }): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled: options.javaScript, viewport })
  if (!options.javaScript) contextsWithoutScripts.add(context)
  return context.newPage()
}

export async function expectAccessible(page: Page, label: string): Promise<void> {
  // axe needs page timers, which never fire while scripting is disabled (analyze() would hang),
  // so a page seen without JavaScript is checked as a copy of its current DOM in a scripting page.
  const checked = contextsWithoutScripts.has(page.context()) ? await copyWithScripting(page) : page
  let results
  try {
    // Legacy mode runs axe once in the page instead of per frame plus a blank page to merge:
    // about 0.3 s instead of 1 s a check, and our pages have no cross-origin frames to miss.
    results = await new AxeBuilder({ page: checked }).withTags(axeTags).options({ rules: { region: { enabled: true } } }).setLegacyMode(true).analyze()
  } finally {
    if (checked !== page) await checked.context().close()
  }
  if (results.violations.length === 0) return
  const lines = results.violations.map((violation) => {
    const targets = violation.nodes.slice(0, 3).map((node) => JSON.stringify(node.target)).join(', ')
    return `- ${violation.id} (${violation.impact ?? 'unknown impact'}): ${violation.help} at ${targets}`
  })
  throw new AssertionError({
    message: `Accessibility violations on "${label}" (${page.url()}):\n${lines.join('\n')}`
  })
}

/**
 * The no-JavaScript rendering, frozen: the DOM as the person sees it (noscript content shown,
 * the page's own scripts removed so they cannot change it), with the same stylesheets, images
 * and fonts fetched from the server, so colour contrast is judged on the real styles. The
 * document itself is served from the snapshot: the server never sees a repeated request.
 * Form values typed since loading are not carried over.
 */
async function copyWithScripting(page: Page): Promise<Page> {
  const html = (await page.content())
    .replace(/<script\b[\s\S]*?<\/script>/gi, '')
    .replace(/<\/?noscript\b[^>]*>/gi, '')
  const browser = page.context().browser()
  if (!browser) throw new Error('expectAccessible needs a page from launchBrowser()')
  const context = await browser.newContext({ viewport: page.viewportSize() ?? viewport })
  try {
    const copy = await context.newPage()
    if (/^https?:/.test(page.url())) {
      await copy.route('**/*', (route) => {
        const request = route.request()
        if (request.isNavigationRequest()) return route.fulfill({ contentType: 'text/html; charset=utf-8', body: html })
        if (request.resourceType() === 'script') return route.abort()
        return route.continue()
      })
      await copy.goto(page.url())
    } else {
      await copy.setContent(html)
    }
    return copy
  } catch (error) {
    await context.close()
    throw error
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotsDir, { recursive: true })
  const path = `${screenshotsDir}/${name}.png`
  await page.screenshot({ path, fullPage: true })
  return path
}

/** A fresh browser context whose steps fail within seconds, not never. */
export async function openPage(browser: Browser, javaScript: boolean): Promise<Page> {
  const page = await newPage(browser, { javaScript })
  page.context().setDefaultTimeout(15_000)
  return page
}

/** Clicks and waits for the page that follows (through any redirects) to load. */
export async function clickAndWait(page: Page, target: Locator): Promise<void> {
  const navigated = page.waitForNavigation({ waitUntil: 'load' })
  await target.click()
  await navigated
}

export function button(page: Page, name: string | RegExp): Locator {
  return page.getByRole('button', { name, exact: typeof name === 'string' })
}

/** The page's h1, whitespace collapsed. */
export async function heading(page: Page): Promise<string> {
  return (await page.locator('h1').innerText()).replace(/\s+/g, ' ').trim()
}
