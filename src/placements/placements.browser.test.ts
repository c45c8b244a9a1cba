import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Locator, Page } from 'playwright-core'
import { button, clickAndWait, expectAccessible, expectAccessibleOnce, heading, launchBrowser, openPage } from '../../test/support/browser.ts'
import { startTestServices, type TestServices } from '../../test/support/placements.ts'
import { expectServiceChrome } from '../../test/support/service-chrome.ts'
import { demoAppPersonaEmail, demoAppSecret, demoPassword } from '../demo/personas.ts'
import { FakeClock } from '../platform/clock.ts'
import { nextAppCode } from '../../test/support/second-factor.ts'
import { RunningClock } from '../../test/support/running-clock.ts'
import { signInInBrowser } from '../../test/support/sign-in-steps.ts'

/**
 * Placements journeys walked as a person would, in Chromium, across both running services:
 * Placements (the relying party) and Sign-in (the OpenID Provider). Each is walked with
 * JavaScript and, where the journey allows, without. Every page state reached is checked
 * with axe (WCAG 2.2 AA). Codes and invitation links are read from the services'
 * development mailboxes, as a person would read their email.
 *
 * The inactivity journeys need a Placements whose sessions end after 20 seconds (warning
 * at 10): that one is started only for them, so no warning dialog appears in the others.
 */
let browser: Browser
let services: TestServices

const newPassword = 'a long phrase nobody else would pick 2026'
const providerName = 'DfE Sign-in'
const serviceName = 'Manage school placements'

// Both services' time: real time, moved on to the next 30-second step when Colin's app code for this one was taken.
const servicesClock = new RunningClock()

before(async () => {
  services = await startTestServices({ clock: servicesClock })
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await services?.close()
})

function link(page: Page, name: string | RegExp): Locator {
  return page.getByRole('link', { name, exact: typeof name === 'string' })
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

async function organisationId(name: string): Promise<string> {
  const row = await services.placements.context.db.selectFrom('organisations').select('id').where('name', '=', name).executeTakeFirstOrThrow()
  return row.id
}

/** A Placements page: where we are, its heading, no error summary. */
async function expectPlacementsPage(page: Page, url: string, path: string | RegExp, expectedHeading: string | RegExp): Promise<void> {
  const at = new URL(page.url())
  assert.equal(at.origin, url, `expected Placements, at ${page.url()}`)
  if (typeof path === 'string') assert.equal(at.pathname, path)
  else assert.match(at.pathname, path)
  const text = await heading(page)
  if (typeof expectedHeading === 'string') assert.equal(text, expectedHeading, `on ${page.url()}`)
  else assert.match(text, expectedHeading, `on ${page.url()}`)
  assert.equal(await page.locator('.govuk-error-summary').count(), 0, 'no error summary')
  await expectServiceChrome(page)
}

/** Sign-in's page, continuing to Placements. */
async function expectSigninPage(page: Page, signinUrl: string, expectedHeading: string | RegExp): Promise<void> {
  assert.ok(page.url().startsWith(signinUrl), `expected Sign-in, at ${page.url()}`)
  const text = await heading(page)
  if (typeof expectedHeading === 'string') assert.equal(text, expectedHeading, `on ${page.url()}`)
  else assert.match(text, expectedHeading, `on ${page.url()}`)
  assert.equal(await page.locator('.govuk-error-summary').count(), 0, 'no error summary')
  await expectServiceChrome(page)
}

/** Sign-in asks for the password: its own session (if any) was not enough. */
async function expectPasswordAsked(page: Page, signinUrl: string): Promise<void> {
  await expectSigninPage(page, signinUrl, /Sign in$/)
  assert.equal(await page.locator('#continuing-to').innerText(), `To continue to ${serviceName}`)
  assert.equal(await page.locator('#password').isVisible(), true, 'the password is asked for')
}

/**
 * The password, then the second factor: the support persona's authenticator app (codes
 * computed from its development-only key, as the README tells a newcomer), or for
 * everyone else the code Sign-in emails (read from its development mailbox).
 */
async function signInAtSignin(page: Page, email: string, password = demoPassword): Promise<void> {
  await signInInBrowser(page, { email, password }, async () => {
    const signinUrl = new URL(page.url()).origin
    if (email === demoAppPersonaEmail) {
      await expectSigninPage(page, signinUrl, 'Enter the code from your authenticator app')
      return nextAppCode(demoAppSecret, servicesClock)
    }
    await expectSigninPage(page, signinUrl, 'Check your email')
    return codeFromMailbox(page, signinUrl, email, `sign-in code for ${email}`)
  })
}

/** The header's links (GOV.UK service navigation). */
/** The header's links, and its "Sign out" (a form's button that looks like a link). */
async function navigationLinks(page: Page): Promise<string[]> {
  return page.locator('.govuk-service-navigation__list a, .govuk-service-navigation__list button').evaluateAll((links) => links.map((l) => (l.textContent ?? '').trim()))
}

/** The header's items marked as where the person is. */
async function activeNavigation(page: Page): Promise<string[]> {
  return page.locator('.govuk-service-navigation__item--active').evaluateAll((items) => items.map((i) => (i.textContent ?? '').trim()))
}

/** Opens Sign-in's development mailbox in a second tab, reads the newest code sent to this address. */
async function codeFromMailbox(page: Page, signinUrl: string, email: string, label: string): Promise<string> {
  const mailbox = await page.context().newPage()
  try {
    await mailbox.goto(`${signinUrl}/dev/mailbox`)
    assert.equal(await heading(mailbox), 'Development mailbox')
    await expectAccessibleOnce(mailbox, 'Sign-in development mailbox', `${label}: Sign-in development mailbox`)
    const body = await emailTo(mailbox, email).locator('.app-email__body').innerText()
    const code = body.match(/\b(\d{6})\b/)?.[1]
    assert.ok(code, `a code in the newest email to ${email}:\n${body}`)
    return code
  } finally {
    await mailbox.close()
  }
}

/** The newest email in a development mailbox page addressed to this person. */
function emailTo(mailbox: Page, email: string): Locator {
  return mailbox.locator('article.app-email')
    .filter({ has: mailbox.locator('.govuk-summary-list__value', { hasText: new RegExp(`^\\s*${escapeRegExp(email)}\\s*$`) }) })
    .first()
}

/** Creates a Sign-in account from Sign-in's sign-in page (names given, email as already filled or given). */
async function createAccountOnTheWay(page: Page, signinUrl: string, person: { givenName: string, familyName: string, email?: string }, label: string): Promise<string> {
  await clickAndWait(page, page.getByRole('link', { name: /create .*account/i }))
  await expectSigninPage(page, signinUrl, /Create an account$/)
  await expectAccessible(page, `${label}: create an account`)
  await page.locator('#givenName').fill(person.givenName)
  await page.locator('#familyName').fill(person.familyName)
  if (person.email) await page.locator('#email').fill(person.email)
  const email = await page.locator('#email').inputValue()
  await clickAndWait(page, button(page, 'Continue'))
  await expectSigninPage(page, signinUrl, /Check your email$/)
  assert.match(await page.locator('main').innerText(), new RegExp(`We've sent a code to ${escapeRegExp(email)}`))
  await expectAccessible(page, `${label}: check your email`)

  await page.locator('#code').fill(await codeFromMailbox(page, signinUrl, email, label))
  await clickAndWait(page, button(page, 'Continue'))
  await expectSigninPage(page, signinUrl, /Create your password$/)
  await expectAccessible(page, `${label}: create your password`)
  await page.locator('#password').fill(newPassword)
  await page.locator('#confirmPassword').fill(newPassword)
  await clickAndWait(page, button(page, 'Create account'))
  assert.equal((await page.locator('.govuk-panel__title').innerText()).trim(), 'Your account has been created')
  await expectAccessible(page, `${label}: registration complete`)
  await clickAndWait(page, button(page, `Continue to ${serviceName}`))
  return email
}

/** RP-initiated logout at Sign-in: with JavaScript the confirmation submits itself; without, the person confirms. */
async function confirmProviderSignOut(page: Page, javaScript: boolean, label: string): Promise<void> {
  if (!javaScript) {
    await expectSigninPage(page, services.signin.url, /^Sign out of /)
    await expectAccessible(page, `${label}: sign out of ${providerName}`)
    await clickAndWait(page, button(page, 'Sign out'))
  }
  // The provider sends the person back with the state Placements gave it.
  await page.waitForURL((url) => url.origin === services.placements.url && url.pathname === '/signed-out' && url.searchParams.has('state'))
  await expectPlacementsPage(page, services.placements.url, '/signed-out', 'You have signed out')
  assert.match(await page.locator('main').innerText(), new RegExp(`signed out of ${serviceName} and ${providerName}`))
  await expectAccessible(page, `${label}: you have signed out`)
}

for (const javaScript of [true, false]) {
  const mode = javaScript ? 'with JavaScript' : 'without JavaScript'
  const tag = javaScript ? 'js' : 'nojs'

  describe(`Placements journeys ${mode}`, () => {
    it('(2) an existing account signs in from the start page and lands on its organisation', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const { placements, signin } = services
        await page.goto(`${placements.url}/`)
        await expectPlacementsPage(page, placements.url, '/', 'Sign in to Manage school placements')
        assert.deepEqual(await navigationLinks(page), [], 'no header links before signing in')
        assert.equal(await page.locator('#timeout-warning').count(), 0, 'no timeout warning for people not signed in')
        await expectAccessible(page, `${mode}: start page`)

        await clickAndWait(page, button(page, `Sign in using ${providerName}`))
        await expectPasswordAsked(page, signin.url)
        await expectAccessible(page, `${mode}: ${providerName} sign in`)
        await signInAtSignin(page, 'anne.wilson@example.com')

        await expectPlacementsPage(page, placements.url, `/organisations/${await organisationId('Oakwood Primary School')}`, 'Oakwood Primary School')
        assert.deepEqual(await navigationLinks(page), ['Sign out'], 'one organisation: no "Change organisation"')
        assert.match(await page.locator('main').innerText(), /Anne Wilson/)
        // The warning is there for JavaScript to open; closed, it is hidden either way.
        assert.equal(await page.locator('#timeout-warning').isVisible(), false)
        await expectAccessible(page, `${mode}: organisation page`)
      } finally {
        await page.context().close()
      }
    })

    it('(3) signed in with an address Placements does not know: told so, signs out of both, signs in as someone else', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const { placements, signin } = services
        const stranger = `lee.morgan.${tag}@example.org`
        await page.goto(`${placements.url}/`)
        await clickAndWait(page, button(page, `Sign in using ${providerName}`))
        await expectPasswordAsked(page, signin.url)
        await createAccountOnTheWay(page, signin.url, { givenName: 'Lee', familyName: 'Morgan', email: stranger }, `${mode} (3)`)

        await expectPlacementsPage(page, placements.url, '/no-access', 'You do not have access to this service')
        assert.match(await page.locator('main').innerText(), new RegExp(`You signed in to ${providerName} as ${escapeRegExp(stranger)}`))
        assert.match(await page.locator('main').innerText(), /the email address you were added to the service with/)
        await expectAccessible(page, `${mode}: no access`)

        await clickAndWait(page, button(page, 'Sign out and sign in with a different account'))
        await confirmProviderSignOut(page, javaScript, `${mode} (3)`)

        // The provider session ended too: signing in again asks for a password, and works.
        await clickAndWait(page, link(page, 'Sign in again'))
        await expectPasswordAsked(page, signin.url)
        assert.equal(await page.locator('#email').inputValue(), '', 'nothing of the previous account is carried over')
        await signInAtSignin(page, 'anne.wilson@example.com')
        await expectPlacementsPage(page, placements.url, `/organisations/${await organisationId('Oakwood Primary School')}`, 'Oakwood Primary School')
      } finally {
        await page.context().close()
      }
    })

    it('(4) someone in several organisations chooses one, then changes organisation from the header', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const { placements, signin } = services
        await page.goto(`${placements.url}/sign-in`)
        await expectPasswordAsked(page, signin.url)
        await signInAtSignin(page, 'mary.lawson@example.com')

        await expectPlacementsPage(page, placements.url, '/organisations', 'Which organisation do you want to use?')
        const choices = await page.locator('.govuk-radios__label').allInnerTexts()
        assert.deepEqual(choices.map((c) => c.trim()).sort(), ['North West Teacher Training Partnership', 'Oakwood Primary School', 'Riverside Academy'])
        assert.equal(await page.locator('input[name="organisationId"]:checked').count(), 0, 'nothing chosen for them')
        await expectAccessible(page, `${mode}: choose organisation`)

        await clickAndWait(page, button(page, 'Continue'))
        assert.equal(new URL(page.url()).pathname, '/organisations')
        assert.match(await page.title(), /^Error: /)
        const summary = page.locator('.govuk-error-summary')
        assert.equal((await summary.locator('.govuk-error-summary__title').innerText()).trim(), 'There is a problem')
        const listed = await summary.locator('.govuk-error-summary__list a').evaluateAll((links) => links.map((l) => [l.getAttribute('href'), (l.textContent ?? '').trim()]))
        assert.equal(listed.length, 1)
        assert.equal(listed[0]![1], 'Select the organisation you want to use')
        // The summary's link reaches the first radio (GOV.UK radios: the first input has the group's id).
        assert.equal(await page.locator(listed[0]![0]!).getAttribute('name'), 'organisationId')
        assert.match(await page.locator('#organisationId-error').innerText(), /Select the organisation you want to use/)
        await expectAccessible(page, `${mode}: choose organisation, nothing chosen`)

        await page.getByLabel('Riverside Academy').check()
        await clickAndWait(page, button(page, 'Continue'))
        await expectPlacementsPage(page, placements.url, `/organisations/${await organisationId('Riverside Academy')}`, 'Riverside Academy')
        assert.deepEqual(await navigationLinks(page), ['Change organisation', 'Sign out'])
        await expectAccessible(page, `${mode}: Riverside Academy`)

        await clickAndWait(page, link(page, 'Change organisation'))
        await expectPlacementsPage(page, placements.url, '/organisations', 'Which organisation do you want to use?')
        assert.equal(await page.getByLabel('Riverside Academy').isChecked(), true, 'the current organisation is selected')
        await expectAccessible(page, `${mode}: change organisation`)
        await page.getByLabel('North West Teacher Training Partnership').check()
        await clickAndWait(page, button(page, 'Continue'))
        await expectPlacementsPage(page, placements.url, `/organisations/${await organisationId('North West Teacher Training Partnership')}`,
          'North West Teacher Training Partnership')
        await expectAccessible(page, `${mode}: North West Teacher Training Partnership`)

        // The choice is remembered: the service's home goes to the organisation now in use.
        await clickAndWait(page, link(page, serviceName))
        assert.equal(new URL(page.url()).pathname, `/organisations/${await organisationId('North West Teacher Training Partnership')}`)
      } finally {
        await page.context().close()
      }
    })

    it('(6) signing out from the header ends the provider session too', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const { placements, signin } = services
        const best = `/organisations/${await organisationId('Best Practice Network')}`
        await page.goto(`${placements.url}/sign-in`)
        await signInAtSignin(page, 'patricia.adebayo@example.com')
        await expectPlacementsPage(page, placements.url, best, 'Best Practice Network')

        await clickAndWait(page, page.locator('.govuk-service-navigation').getByRole('button', { name: 'Sign out' }))
        await confirmProviderSignOut(page, javaScript, `${mode} (6)`)
        assert.deepEqual(await navigationLinks(page), [], 'no longer signed in here')

        // Signed out of Placements: a page of the service needs signing in again...
        await page.goto(`${placements.url}${best}`)
        // ...and Sign-in has forgotten the person too: it asks for the password.
        await expectPasswordAsked(page, signin.url)
        await signInAtSignin(page, 'patricia.adebayo@example.com')
        await expectPlacementsPage(page, placements.url, best, 'Best Practice Network')
      } finally {
        await page.context().close()
      }
    })
  })
}

/**
 * Time is fake on both sides, so nobody waits 20 real seconds: the services run on a
 * FakeClock, the browser on Playwright's clock, and `advance` moves both by the same amount.
 * The browser's clock is paused once signed in, so the page's timers fire only when time
 * is moved on (axe needs them, hence `withClockRunning`).
 */
describe('(5) inactivity: SESSION_IDLE_TIMEOUT_SECONDS=20, SESSION_WARNING_SECONDS=10', () => {
  let timeoutServices: TestServices
  const idleSeconds = 20
  const warningSeconds = 10
  const clock = new FakeClock(new Date())

  before(async () => {
    timeoutServices = await startTestServices({ clock, placementsEnv: { SESSION_IDLE_TIMEOUT_SECONDS: String(idleSeconds), SESSION_WARNING_SECONDS: String(warningSeconds) } })
  })

  after(async () => {
    await timeoutServices?.close()
  })

  async function signInAsAnne(page: Page): Promise<string> {
    const { placements, signin } = timeoutServices
    const oakwood = await timeoutServices.placements.context.db.selectFrom('organisations').select('id').where('name', '=', 'Oakwood Primary School').executeTakeFirstOrThrow()
    await page.goto(`${placements.url}/sign-in`)
    await expectPasswordAsked(page, signin.url)
    await signInAtSignin(page, 'anne.wilson@example.com')
    await expectPlacementsPage(page, placements.url, `/organisations/${oakwood.id}`, 'Oakwood Primary School')
    return `/organisations/${oakwood.id}`
  }

  const dialog = (page: Page) => page.locator('#timeout-warning')
  const activeId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '')
  const countdown = async (page: Page) => (await page.locator('#timeout-countdown').innerText()).trim()
  const browserNow = (page: Page) => page.evaluate(() => Date.now())

  /** Moves the services' clock and then the browser's on by `seconds`, running the page's timers on the way. */
  async function advance(page: Page, seconds: number): Promise<void> {
    clock.advanceSeconds(seconds)
    await page.clock.runFor(seconds * 1000)
  }

  /** Lets the browser's time run (axe needs the page's timers), then pauses it with the services' clock moved on as far. */
  async function withClockRunning(page: Page, work: () => Promise<void>): Promise<void> {
    const from = await browserNow(page)
    await page.clock.resume()
    await work()
    // Paused a second ahead of now: the browser's time goes on while we ask it to stop.
    const to = await browserNow(page) + 1000
    clock.advanceSeconds((to - from) / 1000)
    await page.clock.pauseAt(to)
  }

  /** A new page in a new context (so without the fake clock) holding `page`'s cookies. */
  async function reopenWithoutClock(page: Page): Promise<Page> {
    const context = await browser.newContext({ storageState: await page.context().storageState(), viewport: page.viewportSize() ?? undefined })
    context.setDefaultTimeout(15_000)
    return context.newPage()
  }

  /** Moves time on a second at a time until the warning opens; returns how many seconds that took. */
  async function secondsUntilWarning(page: Page): Promise<number> {
    for (let seconds = 1; seconds <= idleSeconds; seconds++) {
      await advance(page, 1)
      if (await dialog(page).isVisible()) return seconds
    }
    throw new Error(`no warning within ${idleSeconds} seconds`)
  }

  it('with JavaScript: the warning, "Stay signed in", Escape, then signed out at zero', { timeout: 240_000 }, async () => {
    const page = await openPage(browser, true)
    let later: Page | undefined
    try {
      const { placements, signin } = timeoutServices
      const home = await signInAsAnne(page)
      // From here the browser's time is fake too, starting from the services' clock, paused,
      // and the page is loaded again under it (its timers and its start time are then fake).
      await page.clock.install({ time: clock.now() })
      await page.clock.pauseAt(clock.now().getTime() + 1000)
      clock.advanceSeconds(1)
      await page.reload()
      await expectPlacementsPage(page, placements.url, home, 'Oakwood Primary School')
      assert.equal(await dialog(page).isVisible(), false, 'no warning at first')

      // The warning opens when `warningSeconds` remain, as a modal with focus on its heading.
      const openedAfter = await secondsUntilWarning(page)
      assert.ok(openedAfter >= idleSeconds - warningSeconds - 1 && openedAfter <= idleSeconds - warningSeconds, `opened after ${openedAfter} s`)
      assert.equal(await dialog(page).evaluate((d) => (d as HTMLDialogElement).matches(':modal')), true, 'a modal dialog')
      assert.equal(await dialog(page).evaluate((d) => getComputedStyle(d, '::backdrop').backgroundColor), 'rgba(0, 0, 0, 0.8)', 'over a dark backdrop')
      assert.equal(await activeId(page), 'timeout-warning-heading', 'focus moves to the heading')
      assert.equal(await page.getByRole('dialog', { name: "You're about to be signed out" }).count(), 1)
      assert.match(await dialog(page).innerText(), /For your security, we'll sign you out in \d+ seconds? if you do not do anything\./)
      await withClockRunning(page, () => expectAccessible(page, 'timeout warning'))

      // Focus stays in the dialog: Tab goes round its two controls.
      await page.keyboard.press('Tab')
      assert.equal(await activeId(page), 'timeout-stay')
      await page.keyboard.press('Tab')
      assert.equal(await activeId(page), 'timeout-sign-out')
      await page.keyboard.press('Tab')
      assert.equal(await activeId(page), 'timeout-stay')
      await page.keyboard.press('Shift+Tab')
      assert.equal(await activeId(page), 'timeout-sign-out')

      // The visible countdown ticks every second.
      const shown = await countdown(page)
      await advance(page, 1)
      assert.notEqual(await countdown(page), shown)

      // "Stay signed in": the server extends the session; the dialog closes.
      const keptAlive = page.waitForResponse((r) => r.url() === `${placements.url}/session/keep-alive` && r.request().method() === 'POST')
      await page.getByRole('button', { name: 'Stay signed in' }).click()
      assert.equal((await keptAlive).status(), 200)
      await dialog(page).waitFor({ state: 'hidden' })
      assert.equal(page.url(), `${placements.url}${home}`, 'still on the same page')

      // Past the original 20 seconds: still here (the countdown restarted), and signed in on the server too.
      await advance(page, idleSeconds - openedAfter + 1)
      assert.equal(page.url(), `${placements.url}${home}`, 'not signed out at the original 20 seconds')
      // (Asked from outside the page: a page loaded under Playwright's clock would take the
      // clock's start as its own, and so time out at once.)
      const again = await page.request.get(`${placements.url}${home}`, { maxRedirects: 0 })
      assert.equal(again.status(), 200, 'still signed in on the server')
      assert.match(await again.text(), /Oakwood Primary School/)

      // Escape also means "stay signed in".
      await secondsUntilWarning(page)
      const keptAliveByEscape = page.waitForResponse((r) => r.url() === `${placements.url}/session/keep-alive`)
      await page.keyboard.press('Escape')
      assert.equal((await keptAliveByEscape).status(), 200)
      await dialog(page).waitFor({ state: 'hidden' })

      // This time nobody answers: screen readers are told now and then, and at zero the page goes.
      await secondsUntilWarning(page)
      assert.equal((await page.locator('#timeout-announcement').innerText()).trim(), '', 'the dialog itself says the time when it opens')
      while (await countdown(page) !== '4 seconds') await advance(page, 1)
      assert.equal((await page.locator('#timeout-announcement').innerText()).trim(), "We'll sign you out in 5 seconds.")
      const signedOut = page.waitForURL(`${placements.url}/timed-out`)
      await advance(page, 4)
      await signedOut
      // From here on nothing depends on time: let the browser's run again (axe, the mailbox).
      await page.clock.resume()
      await expectPlacementsPage(page, placements.url, '/timed-out', 'You have been signed out')
      assert.match(await page.locator('main').innerText(), /you had not done anything for 20 seconds/)
      assert.deepEqual(await navigationLinks(page), [])
      await expectAccessible(page, 'you have been signed out (timed out)')

      // "Stay signed in" from a page left open elsewhere is refused now.
      const status = await page.evaluate(async () => (await fetch('/session/keep-alive', { method: 'POST', body: new URLSearchParams({ _csrf: 'x' }), headers: { accept: 'application/json' } })).status)
      assert.equal(status, 401)

      // From here on, pages load in a browser without the fake clock, with the same cookies: a
      // page loaded under Playwright's clock takes the clock's start as its own, and would time out at once.
      later = await reopenWithoutClock(page)
      // A protected page needs signing in again, with the password (Sign-in's session is not enough),
      // and then returns to that page.
      await later.goto(`${placements.url}${home}`)
      await expectPasswordAsked(later, signin.url)
      await signInAtSignin(later, 'anne.wilson@example.com')
      await expectPlacementsPage(later, placements.url, home, 'Oakwood Primary School')

      // A link to "You have been signed out" (from another site, say) cannot sign anyone out:
      // only the warning's own form, with its CSRF token, ends the session.
      await later.goto(`${placements.url}/timed-out`)
      await expectPlacementsPage(later, placements.url, home, 'Oakwood Primary School')
    } finally {
      await page.context().close()
      await later?.context().close()
    }
  })

  it('without JavaScript: no warning, and after the timeout the next link says "You have been signed out"', { timeout: 180_000 }, async () => {
    const page = await openPage(browser, false)
    try {
      const { placements, signin } = timeoutServices
      const home = await signInAsAnne(page)
      await expectAccessible(page, 'without JavaScript: organisation page, timeout 20 seconds')
      // No script runs in this page: only the server's clock matters.
      clock.advanceSeconds(idleSeconds + 1)
      assert.equal(await dialog(page).isVisible(), false, 'a closed dialog is never shown')

      await clickAndWait(page, button(page, 'Add user'))
      await expectPlacementsPage(page, placements.url, '/timed-out', 'You have been signed out')
      await expectAccessible(page, 'without JavaScript: you have been signed out (timed out)')

      await clickAndWait(page, button(page, 'Sign in again'))
      await expectPasswordAsked(page, signin.url)
      await signInAtSignin(page, 'anne.wilson@example.com')
      await expectPlacementsPage(page, placements.url, home, 'Oakwood Primary School')
    } finally {
      await page.context().close()
    }
  })
})

// Last: the support pages and the add-user journey are the newest part of Placements.
for (const javaScript of [true, false]) {
  const mode = javaScript ? 'with JavaScript' : 'without JavaScript'
  const tag = javaScript ? 'js' : 'nojs'

  describe(`(1) a support user invites someone ${mode}`, () => {
    it('Colin adds a person to an organisation; they follow the emailed link, create an account and arrive signed in', { timeout: 240_000 }, async () => {
      const { placements, signin } = services
      const organisation = javaScript ? 'Hillcrest Community School' : 'Millbrook Academy'
      const organisationPath = `/organisations/${await organisationId(organisation)}`
      const person = { givenName: 'Priya', familyName: `Shah ${tag === 'js' ? 'One' : 'Two'}`, email: `priya.shah.${tag}@example.net` }
      const fullName = `${person.givenName} ${person.familyName}`

      const colin = await openPage(browser, javaScript)
      try {
        await colin.goto(`${placements.url}/sign-in`)
        await signInAtSignin(colin, 'colin.chapman@education.gov.uk')
        await expectPlacementsPage(colin, placements.url, '/support/organisations', /Organisations$/)
        await expectAccessible(colin, `${mode} (1): support organisations`)

        await colin.locator('#q').fill(organisation)
        await clickAndWait(colin, button(colin, 'Search'))
        await clickAndWait(colin, colin.locator('main').getByRole('link', { name: organisation, exact: true }))
        await expectPlacementsPage(colin, placements.url, organisationPath, new RegExp(`${escapeRegExp(organisation)}$`))
        // Reached from the console: breadcrumbs back up to it, and "Organisations" is where we are.
        assert.deepEqual(await colin.locator('.govuk-breadcrumbs__list-item').allInnerTexts(), ['Support console', 'Organisations', organisation])
        assert.deepEqual(await activeNavigation(colin), ['Organisations'])
        await expectAccessible(colin, `${mode} (1): ${organisation}`)

        await clickAndWait(colin, button(colin, 'Add user'))
        await expectPlacementsPage(colin, placements.url, `${organisationPath}/users/new`, /Add user$/)
        await expectAccessible(colin, `${mode} (1): add user`)

        await clickAndWait(colin, button(colin, 'Continue'))
        assert.match(await colin.title(), /^Error: /)
        const errors = await colin.locator('.govuk-error-summary__list a').evaluateAll((links) => links.map((l) => l.getAttribute('href')))
        assert.deepEqual(errors, ['#givenName', '#familyName', '#email'])
        await expectAccessible(colin, `${mode} (1): add user, empty form`)

        await colin.locator('#givenName').fill(person.givenName)
        await colin.locator('#familyName').fill(person.familyName)
        await colin.locator('#email').fill(person.email)
        await clickAndWait(colin, button(colin, 'Continue'))
        await expectPlacementsPage(colin, placements.url, `${organisationPath}/users/check`, /Check your answers$/)
        const answers = await colin.locator('.govuk-summary-list__value').allInnerTexts()
        assert.deepEqual(answers.map((a) => a.trim()), [person.givenName, person.familyName, person.email])
        await expectAccessible(colin, `${mode} (1): check your answers`)

        await clickAndWait(colin, button(colin, 'Confirm and add user'))
        await expectPlacementsPage(colin, placements.url, organisationPath, new RegExp(`${escapeRegExp(organisation)}$`))
        assert.match(await colin.locator('.govuk-notification-banner').innerText(), new RegExp(`${escapeRegExp(fullName)} has been added`))
        assert.match(await colin.locator('main table').innerText(), new RegExp(escapeRegExp(person.email)))
        await expectAccessible(colin, `${mode} (1): user added`)
      } finally {
        await colin.context().close()
      }

      // Someone else, on their own computer: the invitation email, its link, and on to Sign-in.
      const page = await openPage(browser, javaScript)
      try {
        await page.goto(`${placements.url}/dev/mailbox`)
        assert.equal(await heading(page), 'Development mailbox')
        await expectAccessible(page, `${mode} (1): Placements development mailbox`)
        const invitation = emailTo(page, person.email)
        assert.match(await invitation.locator('h2').innerText(), new RegExp(`You've been added to ${escapeRegExp(organisation)}`))
        await clickAndWait(page, invitation.locator(`a[href^="${placements.url}/sign-in"]`))

        await expectPasswordAsked(page, signin.url)
        assert.equal(await page.locator('#email').inputValue(), person.email, 'the invited address is filled in')
        await expectAccessible(page, `${mode} (1): ${providerName} sign in, pre-filled`)

        // "Create an account" is filled in with it too; the person only adds their name.
        const email = await createAccountOnTheWay(page, signin.url, { givenName: person.givenName, familyName: person.familyName }, `${mode} (1)`)
        assert.equal(email, person.email, 'the invited address is filled in on "Create an account"')

        // Straight into Placements, signed in, on the organisation they were added to.
        await expectPlacementsPage(page, placements.url, organisationPath, new RegExp(`${escapeRegExp(organisation)}$`))
        assert.deepEqual(await navigationLinks(page), ['Sign out'])
        assert.match(await page.locator('main table').innerText(), new RegExp(`${escapeRegExp(fullName)}\\s+${escapeRegExp(person.email)}\\s+You`))
        await expectAccessible(page, `${mode} (1): signed in after creating an account`)
      } finally {
        await page.context().close()
      }
    })

    it('Colin adds an organisation (its type shows only its references), checks his answers, changes one, confirms; then support users and the audit trail', { timeout: 240_000 }, async () => {
      const { placements } = services
      const provider = javaScript
        ? { name: 'Riverbank SCITT', ukprn: '10077001', providerCode: '7J1' }
        : { name: 'Hillside SCITT', ukprn: '10077002', providerCode: '7N2' }
      const colin = await openPage(browser, javaScript)
      try {
        await colin.goto(`${placements.url}/sign-in`)
        await signInAtSignin(colin, 'colin.chapman@education.gov.uk')
        await expectPlacementsPage(colin, placements.url, '/support/organisations', /Organisations$/)
        assert.deepEqual(await activeNavigation(colin), ['Organisations'])

        await clickAndWait(colin, button(colin, 'Add organisation'))
        await expectPlacementsPage(colin, placements.url, '/support/organisations/new', /Add an organisation$/)
        assert.deepEqual(await activeNavigation(colin), ['Organisations'])
        const visible = async () => ({
          urn: await colin.locator('#urn').isVisible(),
          ukprn: await colin.locator('#ukprn').isVisible(),
          providerCode: await colin.locator('#providerCode').isVisible()
        })
        // Without JavaScript every reference shows, each under its type; with it, none until a type is chosen.
        assert.deepEqual(await visible(), javaScript ? { urn: false, ukprn: false, providerCode: false } : { urn: true, ukprn: true, providerCode: true })
        await expectAccessible(colin, `${mode} (1): add organisation`)

        await colin.getByLabel('School', { exact: true }).check()
        if (javaScript) {
          assert.deepEqual(await visible(), { urn: true, ukprn: false, providerCode: false })
          assert.equal(await colin.locator('#kind').getAttribute('aria-controls'), 'conditional-kind')
          await expectAccessible(colin, `${mode} (1): add organisation, school chosen`)
        }
        await colin.locator('#urn').fill('999999')

        await colin.getByLabel('Teacher training provider', { exact: true }).check()
        if (javaScript) assert.deepEqual(await visible(), { urn: false, ukprn: true, providerCode: true })
        await clickAndWait(colin, button(colin, 'Continue'))
        assert.match(await colin.title(), /^Error: /)
        const errors = await colin.locator('.govuk-error-summary__list a').evaluateAll((links) => links.map((l) => l.getAttribute('href')))
        assert.deepEqual(errors, ['#name', '#ukprn', '#providerCode'])
        await expectAccessible(colin, `${mode} (1): add organisation, errors`)

        await colin.locator('#name').fill(`${provider.name} (draft)`)
        await colin.locator('#ukprn').fill(provider.ukprn)
        await colin.locator('#providerCode').fill(provider.providerCode.toLowerCase())
        await clickAndWait(colin, button(colin, 'Continue'))
        await expectPlacementsPage(colin, placements.url, '/support/organisations/check', /Check your answers$/)
        const answers = async () => (await colin.locator('.govuk-summary-list__value').allInnerTexts()).map((a) => a.trim())
        assert.deepEqual(await answers(), [`${provider.name} (draft)`, 'Teacher training provider', provider.ukprn, provider.providerCode])
        await expectAccessible(colin, `${mode} (1): add organisation, check your answers`)

        await clickAndWait(colin, colin.getByRole('link', { name: 'Change organisation name' }))
        await expectPlacementsPage(colin, placements.url, '/support/organisations/new', /Add an organisation$/)
        assert.equal(await colin.locator('#name').inputValue(), `${provider.name} (draft)`)
        assert.equal(await colin.locator('#ukprn').inputValue(), provider.ukprn)
        assert.equal(await colin.locator('#kind-2').isChecked(), true)
        await colin.locator('#name').fill(provider.name)
        await clickAndWait(colin, button(colin, 'Continue'))
        assert.deepEqual(await answers(), [provider.name, 'Teacher training provider', provider.ukprn, provider.providerCode])

        await clickAndWait(colin, button(colin, 'Confirm and add organisation'))
        await expectPlacementsPage(colin, placements.url, '/support/organisations', /Organisations$/)
        assert.match(await colin.locator('.govuk-notification-banner').innerText(), new RegExp(`${escapeRegExp(provider.name)} has been added`))
        await expectAccessible(colin, `${mode} (1): organisation added`)
        const stored = await services.placements.context.db.selectFrom('organisations').selectAll().where('ukprn', '=', provider.ukprn).execute()
        assert.deepEqual(stored.map((o) => [o.name, o.urn, o.provider_code]), [[provider.name, null, provider.providerCode]])

        await colin.goto(`${placements.url}/support/support-users`)
        await expectPlacementsPage(colin, placements.url, '/support/support-users', /Support users$/)
        assert.deepEqual(await activeNavigation(colin), ['Support users'])
        await expectAccessible(colin, `${mode} (1): support users`)

        await colin.goto(`${placements.url}/support/audit`)
        await expectPlacementsPage(colin, placements.url, '/support/audit', /Audit trail$/)
        assert.deepEqual(await activeNavigation(colin), ['Audit trail'])
        assert.match(await colin.locator('main tbody tr').first().innerText(), new RegExp(`Organisation added[\\s\\S]*${escapeRegExp(provider.name)}`))
        await expectAccessible(colin, `${mode} (1): audit trail`)
      } finally {
        await colin.context().close()
      }
    })
  })
}

describe('(7) step up: a support user signed in with an emailed code is asked for the authenticator app on a support page (without JavaScript)', () => {
  it('asks only for the app code, then returns to the page asked for', { timeout: 180_000 }, async () => {
    const page = await openPage(browser, false)
    try {
      const { placements, signin } = services
      await page.goto(`${placements.url}/support/audit`)
      await expectPasswordAsked(page, signin.url)
      await page.locator('#email').fill(demoAppPersonaEmail)
      await page.locator('#password').fill(demoPassword)
      await clickAndWait(page, button(page, 'Sign in'))
      // Colin chooses the emailed code: enough to sign in, not enough for support pages.
      await clickAndWait(page, link(page, 'Use another way to sign in'))
      await page.getByLabel('Get a code by email').check()
      await clickAndWait(page, button(page, 'Continue'))
      await expectSigninPage(page, signin.url, 'Check your email')
      await page.locator('#code').fill(await codeFromMailbox(page, signin.url, demoAppPersonaEmail, '(7)'))
      await clickAndWait(page, button(page, 'Continue'))

      // Placements sends him back to step up: Sign-in asks for the app code alone, no password.
      await expectSigninPage(page, signin.url, 'Enter the code from your authenticator app')
      assert.doesNotMatch(await page.locator('main').innerText(), /Use another way to sign in/, 'nothing weaker is offered')
      await expectAccessible(page, 'step up: authenticator app code')
      await page.locator('#code').fill(await nextAppCode(demoAppSecret, servicesClock))
      await clickAndWait(page, button(page, 'Continue'))
      await expectPlacementsPage(page, placements.url, '/support/audit', /Audit trail$/)
    } finally {
      await page.context().close()
    }
  })
})
