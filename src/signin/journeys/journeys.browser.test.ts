import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { button, clickAndWait, expectAccessible, expectAccessibleOnce, heading, openPage } from '../../../test/support/browser.ts'
import { expectServiceChrome } from '../../../test/support/service-chrome.ts'
import type { TestSignin } from '../../../test/support/signin.ts'
import type { TestClient } from '../../../test/support/test-client.ts'
import { startBrowserRig, type BrowserRig } from '../../../test/support/browser-rig.ts'
import { passwordMessages } from '../accounts/password-policy.ts'
import { demoAppPersonaEmail, demoAppSecret, demoPassword } from '../../demo/personas.ts'
import { appCodeAt } from '../accounts/authenticator-app.ts'
import { acrValues } from '../accounts/factors.ts'
import { nextAppCode } from '../../../test/support/second-factor.ts'
import { RunningClock } from '../../../test/support/running-clock.ts'
import { addAccount } from '../../../test/support/signin-pages.ts'
import { appMessages, recoveryMessages } from './second-factor/routes.ts'
import { seedDevelopment } from '../seed.ts'
import { codeMessages } from './steps/code-step.ts'
import { messages as signInMessages } from './sign-in/routes.ts'

/**
 * The Sign-in journeys walked as a person would, in Chromium, from a service ("Test
 * service") and back to it: once with JavaScript and once without. Every page state
 * reached, with and without errors, is checked with axe (WCAG 2.2 AA). Codes are read
 * from the development mailbox in a second tab, as a person would read their email.
 */
let browser: Browser
let signin: TestSignin
let service: TestClient

const serviceName = 'Test service'
const newPassword = 'a long phrase nobody else would pick 2026'

// Real time, moved on to the next 30-second step when an app's code for this one was taken.
const clock = new RunningClock()

let rig: BrowserRig
before(async () => {
  // The demo accounts; their Placements client points nowhere and is not used here.
  rig = await startBrowserRig({ serviceName, clock, prepare: (signin) => seedDevelopment(signin.context.db, new Date(), { clientId: 'unused', secret: 'unused-secret-0123456789', placementsUrl: 'http://localhost:4998' }) })
  signin = rig.signin
  service = rig.service
  browser = rig.browser
}, { timeout: 60_000 })
after(() => rig?.close(), { timeout: 60_000 })

/** A Sign-in page: its heading, the service it continues to, and no errors. */
async function expectSigninPage(page: Page, expectedHeading: string | RegExp): Promise<void> {
  const text = await heading(page)
  if (typeof expectedHeading === 'string') assert.equal(text, expectedHeading, `on ${page.url()}`)
  else assert.match(text, expectedHeading, `on ${page.url()}`)
  assert.ok(page.url().startsWith(signin.url), `expected Sign-in, at ${page.url()}`)
  assert.equal(await page.locator('.govuk-error-summary').count(), 0, 'no error summary')
  assert.doesNotMatch(await page.title(), /^Error:/)
  await expectServiceChrome(page)
}

/** The GOV.UK error pattern: "Error: " title, a summary linking to each field, the message by the field. */
async function expectErrors(page: Page, errors: Record<string, string>): Promise<void> {
  assert.match(await page.title(), /^Error: /)
  const summary = page.locator('.govuk-error-summary')
  assert.equal(await summary.locator('.govuk-error-summary__title').innerText(), 'There is a problem')
  const listed = await summary.locator('.govuk-error-summary__list a').evaluateAll((links) =>
    links.map((link) => [link.getAttribute('href'), (link.textContent ?? '').trim()]))
  assert.deepEqual(listed, Object.entries(errors).map(([field, message]) => [`#${field}`, message]))
  await expectServiceChrome(page)
  for (const [field, message] of Object.entries(errors)) {
    const fieldMessage = (await page.locator(`#${field}-error`).innerText()).replace(/^Error:\s*/, '')
    assert.equal(fieldMessage.trim(), message)
    const describedBy = (await page.locator(`#${field}`).getAttribute('aria-describedby')) ?? ''
    assert.ok(describedBy.split(' ').includes(`${field}-error`), `#${field} is described by its error`)
  }
}

async function expectSignedInAtService(page: Page, email: string): Promise<void> {
  await page.waitForURL(`${service.url}/`)
  assert.match(await page.locator('main').innerText(), new RegExp(`Signed in as ${email.replace(/[.]/g, '\\.')}`))
}

/** Opens the development mailbox in a second tab, reads the newest code sent to this address. */
async function codeFromMailbox(page: Page, email: string, label: string): Promise<string> {
  const mailbox = await page.context().newPage()
  try {
    await mailbox.goto(`${signin.url}/dev/mailbox`)
    assert.equal(await heading(mailbox), 'Development mailbox')
    await expectAccessibleOnce(mailbox, 'development mailbox', `${label}: development mailbox`)
    const newest = mailbox.locator('article.app-email')
      .filter({ has: mailbox.locator('.govuk-summary-list__value', { hasText: new RegExp(`^\\s*${email.replace(/[.]/g, '\\.')}\\s*$`) }) })
      .first()
    const body = await newest.locator('.app-email__body').innerText()
    const code = body.match(/\b(\d{6})\b/)?.[1]
    assert.ok(code, `a code in the newest email to ${email}:\n${body}`)
    return code
  } finally {
    await mailbox.close()
  }
}

async function startAtService(page: Page, label: string): Promise<void> {
  await page.goto(`${service.url}/`)
  assert.match(await page.locator('main').innerText(), /You are not signed in/)
  await expectAccessible(page, `${label}: test service, signed out`)
  await clickAndWait(page, page.getByRole('link', { name: 'Sign in', exact: true }))
  await expectSigninPage(page, /Sign in$/)
  assert.equal(await page.locator('#continuing-to').innerText(), `To continue to ${serviceName}`)
}

for (const javaScript of [true, false]) {
  const mode = javaScript ? 'with JavaScript' : 'without JavaScript'
  const tag = javaScript ? 'js' : 'nojs'

  describe(`Sign-in journeys ${mode}`, () => {
    it('(a) signs in with an existing account, after an empty form and a wrong password', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const email = 'anne.wilson@example.com'
        await startAtService(page, `${mode} (a)`)
        await expectAccessible(page, `${mode}: sign in`)
        if (javaScript) {
          // GOV.UK password input: show and hide the password.
          await page.locator('#password').fill('visible for a moment')
          await page.getByRole('button', { name: 'Show password' }).click()
          assert.equal(await page.locator('#password').getAttribute('type'), 'text')
          await expectAccessible(page, `${mode}: sign in, password shown`)
          await page.getByRole('button', { name: 'Hide password' }).click()
          assert.equal(await page.locator('#password').getAttribute('type'), 'password')
          await page.locator('#password').fill('')
        }

        await clickAndWait(page, button(page, 'Sign in'))
        await expectErrors(page, { email: 'Enter your email address', password: 'Enter your password' })
        await expectAccessible(page, `${mode}: sign in, empty form`)

        await page.locator('#email').fill(email)
        await page.locator('#password').fill('not the right password')
        await clickAndWait(page, button(page, 'Sign in'))
        await expectErrors(page, { email: signInMessages.wrongDetails })
        assert.equal(await page.locator('#email').inputValue(), email, 'the address is kept')
        assert.equal(await page.locator('#password').inputValue(), '', 'the password is not sent back')
        await expectAccessible(page, `${mode}: sign in, wrong password`)

        await page.locator('#password').fill(demoPassword)
        await clickAndWait(page, button(page, 'Sign in'))

        // The second factor: a code emailed to the account's address.
        await expectSigninPage(page, 'Check your email')
        assert.match(await page.locator('main').innerText(), new RegExp(`We've sent a code to ${email.replace(/[.]/g, '\\.')}`))
        await expectAccessible(page, `${mode}: sign-in code`)
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { code: codeMessages.missing })
        await expectAccessible(page, `${mode}: sign-in code, empty`)
        await page.locator('#code').fill('12345')
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { code: codeMessages.format })
        const first = await codeFromMailbox(page, email, `${mode} (a)`)
        await clickAndWait(page, page.getByRole('link', { name: 'Send a new code' }))
        await expectSigninPage(page, 'Get a new code')
        await expectAccessible(page, `${mode}: get a new sign-in code`)
        await clickAndWait(page, button(page, 'Send a new code'))
        await expectSigninPage(page, 'Check your email')
        assert.match(await page.locator('.govuk-notification-banner').innerText(), /We've sent a new code/)
        await expectAccessible(page, `${mode}: sign-in code resent`)
        // The code sent first stopped working when the new one was sent.
        const second = await codeFromMailbox(page, email, `${mode} (a)`)
        if (first !== second) {
          await page.locator('#code').fill(first)
          await clickAndWait(page, button(page, 'Continue'))
          await expectErrors(page, { code: codeMessages.incorrect })
          await expectAccessible(page, `${mode}: sign-in code, replaced`)
        }
        await page.locator('#code').fill(second)
        await clickAndWait(page, button(page, 'Continue'))
        await expectSignedInAtService(page, email)
        await expectAccessible(page, `${mode}: test service, signed in`)
      } finally {
        await page.context().close()
      }
    })

    it('(b) creates an account on the way, corrects the address, and ends in the service signed in', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const invited = `sam.okafor.${tag}@exmaple.com`
        const corrected = `sam.okafor.${tag}@example.com`
        // The invitation email's link: the service passes the invited address as login_hint.
        await page.goto(`${service.url}/sign-in?login_hint=${encodeURIComponent(invited)}`)
        await expectSigninPage(page, /Sign in$/)
        assert.equal(await page.locator('#email').inputValue(), invited, 'sign in is pre-filled from login_hint')
        await expectAccessible(page, `${mode}: sign in, pre-filled`)

        await clickAndWait(page, page.getByRole('link', { name: /create .*account/i }))
        await expectSigninPage(page, 'Create an account')
        assert.equal(await page.locator('#email').inputValue(), invited, 'create account is pre-filled from login_hint')
        await expectAccessible(page, `${mode}: create account`)

        await page.locator('#email').fill('')
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { givenName: 'Enter your first name', familyName: 'Enter your last name', email: 'Enter your email address' })
        await expectAccessible(page, `${mode}: create account, empty form`)

        await page.locator('#givenName').fill('Sam')
        await page.locator('#familyName').fill('Okafor')
        await page.locator('#email').fill(invited)
        await clickAndWait(page, button(page, 'Continue'))
        await expectSigninPage(page, 'Check your email')
        assert.match(await page.locator('main').innerText(), new RegExp(`We've sent a code to ${invited.replace(/[.]/g, '\\.')}`))
        assert.equal(await page.locator('#code').getAttribute('autocomplete'), 'one-time-code')
        assert.equal(await page.locator('#code').getAttribute('inputmode'), 'numeric')
        await expectAccessible(page, `${mode}: confirm email`)

        // A code that is certainly not the one sent (read only to choose a wrong one).
        const sent = await signin.latestCode(invited)
        await page.locator('#code').fill(sent === '123456' ? '654321' : '123456')
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { code: codeMessages.incorrect })
        await expectAccessible(page, `${mode}: confirm email, wrong code`)

        // One plain link, with the help beside it: no details to open first.
        await clickAndWait(page, page.getByRole('link', { name: 'Resend the code', exact: true }))
        await expectSigninPage(page, 'Resend the code')
        assert.equal(await page.locator('#email').inputValue(), invited, 'the address is pre-filled and editable')
        await expectAccessible(page, `${mode}: resend the code`)

        await page.locator('#email').fill('sam.okafor@')
        await clickAndWait(page, button(page, 'Send a new code'))
        await expectErrors(page, { email: 'Enter an email address in the correct format, like name@example.com' })
        await expectAccessible(page, `${mode}: resend the code, wrong format`)

        await page.locator('#email').fill(corrected)
        await clickAndWait(page, button(page, 'Send a new code'))
        await expectSigninPage(page, 'Check your email')
        const banner = page.locator('.govuk-notification-banner--success')
        assert.equal((await banner.locator('.govuk-notification-banner__heading, .govuk-notification-banner__content').first().innerText()).trim(), `We've sent a new code to ${corrected}`)
        assert.match(await page.locator('main').innerText(), new RegExp(`We've sent a code to ${corrected.replace(/[.]/g, '\\.')}`))
        await expectAccessible(page, `${mode}: code resent`)

        await page.locator('#code').fill(await codeFromMailbox(page, corrected, mode))
        await clickAndWait(page, button(page, 'Continue'))
        await expectSigninPage(page, 'Create your password')
        await expectAccessible(page, `${mode}: create password`)

        await page.locator('#password').fill('too short')
        await page.locator('#confirmPassword').fill('too short')
        await clickAndWait(page, button(page, 'Create account'))
        await expectErrors(page, { password: passwordMessages['too-short'] })
        await expectAccessible(page, `${mode}: create password, too short`)

        await page.locator('#password').fill(newPassword)
        await page.locator('#confirmPassword').fill(newPassword)
        await clickAndWait(page, button(page, 'Create account'))
        assert.equal((await page.locator('.govuk-panel__title').innerText()).trim(), 'Your account has been created')
        await expectAccessible(page, `${mode}: registration complete`)

        // The offer of an authenticator app, looked at and skipped: the emailed code remains.
        await clickAndWait(page, button(page, 'Set up an authenticator app'))
        await expectSigninPage(page, 'Set up an authenticator app')
        await expectAccessible(page, `${mode}: set up an authenticator app, optional`)
        // Straight back to the service that asked: no email, no new sign-in.
        await clickAndWait(page, button(page, `Skip and continue to ${serviceName}`))
        await expectSignedInAtService(page, corrected)
        assert.match(await page.locator('main').innerText(), /Sam\s+Family name\s+Okafor/)
      } finally {
        await page.context().close()
      }
    })

    it('(c) resets a forgotten password, ends in the service, signs out and must sign in again', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const email = javaScript ? 'patricia.adebayo@example.com' : 'mary.lawson@example.com'
        await startAtService(page, `${mode} (c)`)
        await clickAndWait(page, page.getByRole('link', { name: 'Forgotten your password?' }))
        await expectSigninPage(page, 'Reset your password')
        await expectAccessible(page, `${mode}: forgotten password`)

        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { email: 'Enter your email address' })
        await expectAccessible(page, `${mode}: forgotten password, empty form`)

        await page.locator('#email').fill(email)
        await clickAndWait(page, button(page, 'Continue'))
        await expectSigninPage(page, 'Check your email')
        await expectAccessible(page, `${mode}: forgotten password, check your email`)

        await page.locator('#code').fill(await codeFromMailbox(page, email, mode))
        await clickAndWait(page, button(page, 'Continue'))
        await expectSigninPage(page, 'Create a new password')
        await expectAccessible(page, `${mode}: new password`)

        await page.locator('#password').fill(newPassword)
        await page.locator('#confirmPassword').fill('a different phrase altogether 2026')
        await clickAndWait(page, button(page, 'Reset password'))
        await expectErrors(page, { confirmPassword: passwordMessages.mismatch })
        await expectAccessible(page, `${mode}: new password, do not match`)

        await page.locator('#password').fill(newPassword)
        await page.locator('#confirmPassword').fill(newPassword)
        await clickAndWait(page, button(page, 'Reset password'))
        assert.equal((await page.locator('.govuk-panel__title').innerText()).trim(), 'Your password has been reset')
        await expectAccessible(page, `${mode}: password reset`)

        await clickAndWait(page, button(page, `Continue to ${serviceName}`))
        await expectSignedInAtService(page, email)

        // RP-initiated logout: with JavaScript Sign-in's confirmation submits itself.
        if (javaScript) {
          await page.getByRole('link', { name: 'Sign out' }).click()
        } else {
          await clickAndWait(page, page.getByRole('link', { name: 'Sign out' }))
          await expectSigninPage(page, /^Sign out of /)
          await expectAccessible(page, `${mode}: sign out of Sign-in`)
          await clickAndWait(page, button(page, 'Sign out'))
        }
        await page.waitForURL(`${service.url}/signed-out`)
        assert.equal(await heading(page), 'You have signed out of the test service')
        await expectAccessible(page, `${mode}: test service, signed out`)

        // The Sign-in session ended too: the service's next request asks for the password.
        await clickAndWait(page, page.getByRole('link', { name: 'Go to the test service' }))
        await clickAndWait(page, page.getByRole('link', { name: 'Sign in', exact: true }))
        await expectSigninPage(page, /Sign in$/)
        assert.equal(await page.locator('#password').isVisible(), true)
        await page.locator('#email').fill(email)
        await page.locator('#password').fill(newPassword)
        await clickAndWait(page, button(page, 'Sign in'))
        await expectSigninPage(page, 'Check your email')
        await page.locator('#code').fill(await codeFromMailbox(page, email, mode))
        await clickAndWait(page, button(page, 'Continue'))
        await expectSignedInAtService(page, email)
      } finally {
        await page.context().close()
      }
    })

    it('(e) signs in with an authenticator app, after a wrong code, and can choose another way', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        await startAtService(page, `${mode} (e)`)
        await page.locator('#email').fill(demoAppPersonaEmail)
        await page.locator('#password').fill(demoPassword)
        await clickAndWait(page, button(page, 'Sign in'))
        await expectSigninPage(page, 'Enter the code from your authenticator app')
        await expectAccessible(page, `${mode}: authenticator app code`)
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { code: codeMessages.missing })
        await expectAccessible(page, `${mode}: authenticator app code, empty`)
        const current = appCodeAt(demoAppSecret, clock.now())
        await page.locator('#code').fill(current === '000000' ? '111111' : '000000')
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { code: appMessages.incorrect })
        await expectAccessible(page, `${mode}: authenticator app code, wrong`)

        await clickAndWait(page, page.getByRole('link', { name: 'Use another way to sign in' }))
        await expectSigninPage(page, 'How do you want to sign in?')
        await expectAccessible(page, `${mode}: choose how to sign in`)
        await clickAndWait(page, button(page, 'Continue'))
        assert.match(await page.title(), /^Error: /)
        assert.equal((await page.locator('.govuk-error-summary__list a').innerText()).trim(), appMessages.choose)
        await expectAccessible(page, `${mode}: choose how to sign in, nothing chosen`)
        await page.getByLabel('Use your authenticator app').check()
        await clickAndWait(page, button(page, 'Continue'))
        await expectSigninPage(page, 'Enter the code from your authenticator app')
        await page.locator('#code').fill(await nextAppCode(demoAppSecret, clock))
        await clickAndWait(page, button(page, 'Continue'))
        await expectSignedInAtService(page, demoAppPersonaEmail)
      } finally {
        await page.context().close()
      }
    })

    it('(f) a service asks for an authenticator app: the person sets one up from the key shown and signs in with it', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const email = `app.setup.${tag}@example.com`
        await addAccount(signin.context.db, { email, password: newPassword })
        await page.goto(`${service.url}/sign-in?acr_values=${encodeURIComponent(acrValues.app)}`)
        await expectSigninPage(page, /Sign in$/)
        await page.locator('#email').fill(email)
        await page.locator('#password').fill(newPassword)
        await clickAndWait(page, button(page, 'Sign in'))
        await expectSigninPage(page, 'Check your email')
        await page.locator('#code').fill(await codeFromMailbox(page, email, `${mode} (f)`))
        await clickAndWait(page, button(page, 'Continue'))

        await expectSigninPage(page, 'Set up an authenticator app')
        assert.match(await page.locator('main').innerText(), /needs you to sign in with an authenticator app/)
        assert.match(await page.locator('img.app-qr-code').getAttribute('src') ?? '', /^data:image\/png;base64,/)
        await expectAccessible(page, `${mode}: set up an authenticator app`)
        const secret = (await page.locator('#secret-key').innerText()).replace(/\s/g, '')
        const current = appCodeAt(secret, clock.now())
        await page.locator('#code').fill(current === '000000' ? '111111' : '000000')
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { code: appMessages.incorrect })
        await expectAccessible(page, `${mode}: set up an authenticator app, wrong code`)
        await page.locator('#code').fill(await nextAppCode(secret, clock))
        await clickAndWait(page, button(page, 'Continue'))

        // 10 recovery codes, shown once.
        await expectSigninPage(page, 'Save your recovery codes')
        const codes = await page.locator('#recovery-codes li').allInnerTexts()
        assert.equal(codes.length, 10)
        await expectAccessible(page, `${mode}: save your recovery codes`)
        await clickAndWait(page, button(page, 'I have saved my recovery codes'))
        await expectSignedInAtService(page, email)

        // Later, without the app: a recovery code, then the offer to review the factors.
        await page.context().clearCookies()
        await page.goto(`${service.url}/sign-in`)
        await page.locator('#email').fill(email)
        await page.locator('#password').fill(newPassword)
        await clickAndWait(page, button(page, 'Sign in'))
        await expectSigninPage(page, 'Enter the code from your authenticator app')
        await clickAndWait(page, page.getByRole('link', { name: 'Use another way to sign in' }))
        await page.getByLabel('Use a recovery code').check()
        await clickAndWait(page, button(page, 'Continue'))
        await expectSigninPage(page, 'Enter a recovery code')
        await expectAccessible(page, `${mode}: enter a recovery code`)
        await page.locator('#code').fill('abcde-fghjk')
        await clickAndWait(page, button(page, 'Continue'))
        await expectErrors(page, { code: recoveryMessages.incorrect })
        await expectAccessible(page, `${mode}: enter a recovery code, wrong`)
        await page.locator('#code').fill(codes[0]!.trim())
        await clickAndWait(page, button(page, 'Continue'))
        await expectSigninPage(page, 'You used a recovery code')
        assert.match(await page.locator('main').innerText(), /You have 9 recovery codes left/)
        await expectAccessible(page, `${mode}: you used a recovery code`)
        await clickAndWait(page, button(page, `Continue to ${serviceName}`))
        await expectSignedInAtService(page, email)
      } finally {
        await page.context().close()
      }
    })

    it('(g) your account: sees its details, changes name and password after errors, signs out everywhere', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        const email = `yan.account.${tag}@example.com`
        const password = 'first password of this account 2026'
        await addAccount(signin.context.db, { email, password, givenName: 'Yan', familyName: 'Account' })
        // Not signed in: the page says how to sign in.
        await page.goto(`${signin.url}/account`)
        assert.equal(await heading(page), 'Sign in to see your account')
        await expectServiceChrome(page)
        await expectAccessible(page, `${mode}: your account, not signed in`)

        await startAtService(page, `${mode} (g)`)
        await page.locator('#email').fill(email)
        await page.locator('#password').fill(password)
        await clickAndWait(page, button(page, 'Sign in'))
        await expectSigninPage(page, 'Check your email')
        await page.locator('#code').fill(await codeFromMailbox(page, email, `${mode} (g)`))
        await clickAndWait(page, button(page, 'Continue'))
        await expectSignedInAtService(page, email)

        // From Sign-in's home page, through the header link.
        await page.goto(`${signin.url}/`)
        await clickAndWait(page, page.locator('header').getByRole('link', { name: 'Your account' }))
        await expectSigninPage(page, 'Your account')
        assert.match(await page.locator('main').innerText(), /Yan Account/)
        assert.equal(await page.locator('#recent-activity tbody tr').count(), 1)
        await expectAccessible(page, `${mode}: your account`)

        await clickAndWait(page, page.getByRole('link', { name: 'Change name' }))
        await expectSigninPage(page, 'Change your name')
        await expectAccessible(page, `${mode}: change your name`)
        await page.locator('#givenName').fill('')
        await clickAndWait(page, button(page, 'Save name'))
        await expectErrors(page, { givenName: 'Enter your first name' })
        await expectAccessible(page, `${mode}: change your name, empty`)
        await page.locator('#givenName').fill('Yanis')
        await clickAndWait(page, button(page, 'Save name'))
        await expectSigninPage(page, 'Your account')
        assert.match(await page.locator('.govuk-notification-banner').innerText(), /Your name has been changed/)
        await expectAccessible(page, `${mode}: your account, name changed`)

        await clickAndWait(page, page.getByRole('link', { name: 'Change password' }))
        await expectSigninPage(page, 'Change your password')
        await expectAccessible(page, `${mode}: change your password`)
        await clickAndWait(page, button(page, 'Change password'))
        await expectErrors(page, { currentPassword: 'Enter your current password', password: 'Enter a new password' })
        await expectAccessible(page, `${mode}: change your password, empty`)
        await page.locator('#currentPassword').fill('not the password')
        await page.locator('#password').fill(newPassword)
        await page.locator('#confirmPassword').fill(newPassword)
        await clickAndWait(page, button(page, 'Change password'))
        await expectErrors(page, { currentPassword: 'Your current password is not correct' })
        await expectAccessible(page, `${mode}: change your password, wrong current password`)
        await page.locator('#currentPassword').fill(password)
        await page.locator('#password').fill(newPassword)
        await page.locator('#confirmPassword').fill(newPassword)
        await clickAndWait(page, button(page, 'Change password'))
        await expectSigninPage(page, 'Your account')
        assert.match(await page.locator('.govuk-notification-banner').innerText(), /Your password has been changed/)

        await clickAndWait(page, button(page, 'Sign out of every device and service'))
        await expectSigninPage(page, "You've been signed out everywhere")
        assert.equal(await page.locator('header').getByRole('link', { name: 'Your account' }).count(), 0)
        await expectAccessible(page, `${mode}: signed out everywhere`)
      } finally {
        await page.context().close()
      }
    })

    it('(d) an expired sign-in request says so and leads back to the service', { timeout: 180_000 }, async () => {
      const page = await openPage(browser, javaScript)
      try {
        await startAtService(page, `${mode} (d)`)
        // The person left the tab for hours: the authorization request is gone.
        await page.context().clearCookies({ name: 'signin-interaction' })
        await page.locator('#email').fill('anne.wilson@example.com')
        await page.locator('#password').fill(demoPassword)
        await clickAndWait(page, button(page, 'Sign in'))
        assert.equal(await heading(page), 'Your sign-in request has expired')
        assert.ok(page.url().startsWith(signin.url))
        await expectAccessible(page, `${mode}: sign-in request expired`)

        await clickAndWait(page, page.locator('a', { hasText: `Go to ${serviceName}` }))
        assert.equal(page.url(), `${service.url}/`)
        assert.match(await page.locator('main').innerText(), /You are not signed in/)
      } finally {
        await page.context().close()
      }
    })
  })
}
