import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type * as oidc from 'openid-client'
import { FakeClock } from '../../../platform/clock.ts'
import { csrfFrom, HttpSession } from '../../../../test/support/http-client.ts'
import { startSigninWithTestService, type TestSignin } from '../../../../test/support/signin.ts'
import { errorSummary, startJourney } from '../../../../test/support/signin-pages.ts'
import { challengeLimits, mayMakeChallenge, tooManyChallengesAnswer } from '../../accounts/passkey-challenge-limit.ts'
import { passkeySignInMessages } from './routes.ts'

// The passkey options request makes a challenge the store keeps for 5 minutes; how many
// may be made is limited per session and per IP address, atomically (docs/security.md,
// "passkeys"). Fired all at once, so a check-then-write race would let more through.
const serviceUrl = 'http://localhost:4997'
const redirectUri = `${serviceUrl}/callback`
const clock = new FakeClock(new Date())
let signin: TestSignin
let config: oidc.Configuration

before(async () => {
  ({ signin, config } = await startSigninWithTestService({ clock, serviceUrl }))
})
after(() => signin.close())

test('50 passkey options requests at once in one sign-in: 10 challenges are made, the rest get 429, and the limit ends after 5 minutes', async () => {
  const http = new HttpSession()
  const { base, page } = await startJourney(http, config, redirectUri)
  const replies = await Promise.all(Array.from({ length: 50 }, () => http.get(`${base}/passkey-sign-in/options`, { accept: 'application/json' })))
  const statuses = replies.map((reply) => reply.status)
  assert.equal(statuses.filter((status) => status === 200).length, challengeLimits.perSession)
  assert.equal(statuses.filter((status) => status === 429).length, 50 - challengeLimits.perSession)
  for (const reply of replies.filter((r) => r.status === 200)) assert.ok(JSON.parse(reply.text).challenge, 'a real challenge')

  // The browser script then sends the limit's answer, and the person is told what happened.
  const refused = await http.post(`${base}/passkey-sign-in`, { _csrf: csrfFrom(page.text), response: tooManyChallengesAnswer })
  assert.equal(refused.status, 400)
  assert.deepEqual(errorSummary(refused.text).map((error) => error.text), [passkeySignInMessages.limit])

  // Another sign-in is not held up by this one.
  const other = new HttpSession()
  const second = await startJourney(other, config, redirectUri)
  assert.equal((await other.get(`${second.base}/passkey-sign-in/options`, { accept: 'application/json' })).status, 200)

  clock.advanceSeconds(challengeLimits.windowSeconds + 1)
  assert.equal((await http.get(`${base}/passkey-sign-in/options`, { accept: 'application/json' })).status, 200, 'allowed again after the window')
})

test('one IP address may make 300 challenges in 5 minutes, however many sessions ask at once', async () => {
  const ip = `198.51.100.${Math.floor(Math.random() * 250) + 1}-${process.pid}-${Date.now()}`
  const now = clock.now()
  const asked = challengeLimits.perIp + 50
  const allowed = await Promise.all(Array.from({ length: asked }, (_, i) => mayMakeChallenge(signin.context.store, `test-session-${ip}-${i}`, ip, now)))
  assert.equal(allowed.filter(Boolean).length, challengeLimits.perIp)
})
