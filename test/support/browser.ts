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
  if (contextsWithoutScripts.has(page.context())) await page.evaluate(showPageAsWithoutScripts)
  // Legacy mode runs axe once in the page instead of per frame plus a blank page to merge:
  // about 0.3 s instead of 1 s a check, and our pages have no cross-origin frames to miss.
  const results = await new AxeBuilder({ page }).withTags(axeTags).options({ rules: { region: { enabled: true } } }).setLegacyMode(true).analyze()
  await expectReflow(page, label, page.url())
  if (results.violations.length === 0) return
  const lines = results.violations.map((violation) => {
    const targets = violation.nodes.slice(0, 3).map((node) => JSON.stringify(node.target)).join(', ')
    return `- ${violation.id} (${violation.impact ?? 'unknown impact'}): ${violation.help} at ${targets}`
  })
  throw new AssertionError({
    message: `Accessibility violations on "${label}" (${page.url()}):\n${lines.join('\n')}`
  })
}

const statesChecked = new Set<string>()

/**
 * For a page state met again and again in one test file (the development mailbox read for
 * each code): `expectAccessible` the first time it is met with JavaScript and the first time
 * without, not every time. `state` names the page state, whatever its URL or contents.
 */
export async function expectAccessibleOnce(page: Page, state: string, label: string): Promise<void> {
  const key = `${state} (${contextsWithoutScripts.has(page.context()) ? 'without' : 'with'} JavaScript)`
  if (statesChecked.has(key)) return
  await expectAccessible(page, label)
  statesChecked.add(key)
}

export const narrowestWidth = 320

/**
 * WCAG 1.4.10 Reflow: at 320 CSS pixels wide the page scrolls in one direction only. The
 * viewport is narrowed, the document's width measured, and the viewport put back, so the
 * journey carries on at the width it started with. A failure names the elements wider than
 * the viewport, innermost first, which is where a fix goes.
 */
async function expectReflow(page: Page, label: string, url: string): Promise<void> {
  const original = page.viewportSize() ?? viewport
  await page.setViewportSize({ width: narrowestWidth, height: original.height })
  try {
    const measured = await page.evaluate((width) => {
      const scrollWidth = document.documentElement.scrollWidth
      if (scrollWidth <= width) return { scrollWidth, overflowing: [] as string[] }
      const describe = (element: Element) => {
        const id = element.id ? `#${element.id}` : ''
        const classes = Array.from(element.classList).slice(0, 3).map((c) => `.${c}`).join('')
        const text = (element.textContent ?? '').replace(/\s+/g, ' ').trim().slice(0, 40)
        return `${element.tagName.toLowerCase()}${id}${classes} (to ${Math.round(rightEdge(element))} px) "${text}"`
      }
      // Its box, or its content where that spills out of the box (a long address in a paragraph).
      const rightEdge = (element: Element) => {
        const box = element.getBoundingClientRect()
        return Math.max(box.right, box.left + element.scrollWidth)
      }
      const wide = Array.from(document.body.querySelectorAll('*')).filter((element) => rightEdge(element) > width + 0.5)
      // The innermost first: an element none of whose descendants overflow is where to look.
      const innermost = wide.filter((element) => !wide.some((other) => other !== element && element.contains(other)))
      return { scrollWidth, overflowing: innermost.slice(0, 8).map(describe) }
    }, narrowestWidth)
    if (measured.scrollWidth <= narrowestWidth) return
    throw new AssertionError({
      message: `"${label}" (${url}) is ${measured.scrollWidth} px wide at ${narrowestWidth} px (WCAG 1.4.10 Reflow); too wide:\n- ${measured.overflowing.join('\n- ')}`
    })
  } finally {
    await page.setViewportSize(original)
  }
}

/**
 * Makes a page seen without JavaScript checkable in place, as the person sees it:
 * - axe yields between its checks with setTimeout, whose callbacks never run in a page with
 *   scripting disabled (analyze() would hang). That page's own scripts never ran, so nothing
 *   of its own uses timers: for axe they are replaced by ones that run the callback straight after.
 * - axe passes over what is inside `<noscript>` (a browser running scripts never shows it),
 *   but this person sees exactly that: each noscript element is replaced by its content.
 * No copy and no second load; typed values are kept.
 */
function showPageAsWithoutScripts(): void {
  const immediate = (callback: (...args: unknown[]) => void, _ms?: number, ...args: unknown[]) => {
    void Promise.resolve().then(() => callback(...args))
    return 0
  }
  Object.assign(window, { setTimeout: immediate })
  for (const noscript of Array.from(document.querySelectorAll('noscript'))) {
    const content = document.createElement('template')
    // Parsed as elements when scripting is off for the parser, else kept as text: either way, its markup.
    content.innerHTML = noscript.children.length > 0 ? noscript.innerHTML : (noscript.textContent ?? '')
    noscript.replaceWith(content.content)
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
