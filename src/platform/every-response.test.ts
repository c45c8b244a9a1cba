import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startTestServices, type TestServices } from '../../test/support/placements.ts'

// Security headers on every response of both services (docs/security.md, "headers"):
// pages, static assets, the provider's own endpoints, and errors alike. Static files and
// the provider used to be answered before the headers were set.
let services: TestServices
before(async () => {
  services = await startTestServices()
})
after(() => services.close())

function assertSecurityHeaders(response: Response, what: string) {
  assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/, `${what}: CSP`)
  assert.match(response.headers.get('strict-transport-security') ?? '', /max-age=\d{8}/, `${what}: HSTS`)
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`)
  assert.equal(response.headers.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`)
  assert.equal(response.headers.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`)
}

test('every kind of response from both services carries the security headers', async () => {
  const { signin, placements } = services
  const targets: Array<[string, RequestInit?]> = [
    [`${signin.url}/`], [`${signin.url}/assets/govuk-frontend.min.css`], [`${signin.url}/assets/app.css`], [`${signin.url}/assets/sign-out.js`],
    [`${signin.url}/assets/images/favicon.ico`], [`${signin.url}/.well-known/openid-configuration`], [`${signin.url}/jwks`],
    [`${signin.url}/nope`], [`${signin.url}/assets/nope.css`], [`${signin.url}/interaction/neverIssuedInteraction01`],
    [`${signin.url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code' }) }],
    [`${signin.url}/auth?client_id=nobody`],
    [`${placements.url}/`], [`${placements.url}/assets/govuk-frontend.min.css`], [`${placements.url}/assets/timeout-warning.js`],
    [`${placements.url}/nope`], [`${placements.url}/assets/nope.css`], [`${placements.url}/organisations`]
  ]
  for (const [url, init] of targets) {
    const response = await fetch(url, { redirect: 'manual', ...init })
    assertSecurityHeaders(response, `${init?.method ?? 'GET'} ${url} (${response.status})`)
  }
})

test('unknown paths get the GOV.UK "Page not found" page, never stored by a cache, on both services', async () => {
  for (const url of [`${services.signin.url}/nope`, `${services.signin.url}/cookies-nowhere`, `${services.placements.url}/nope`]) {
    const response = await fetch(url)
    assert.equal(response.status, 404, url)
    assert.equal(response.headers.get('cache-control'), 'no-store', url)
    assert.match(response.headers.get('content-type') ?? '', /text\/html/, url)
    assert.match(await response.text(), /<h1 class="govuk-heading-l">Page not found<\/h1>/, url)
  }
})
