import assert from 'node:assert/strict'
import { test } from 'node:test'
import { safeReturnPath } from './return-path.ts'

// Open redirects (docs/security.md): whatever comes in as a return path, what goes out
// in a Location header must lead to this service. Each value is read as a browser reads
// a Location header: resolved against the service's own address.
const service = 'https://placements.example'

const hostile = [
  '//evil.example', '//evil.example/x', '///evil.example', '////evil.example/x',
  '/\\evil.example', '/\\/evil.example', '\\\\evil.example', '\\/evil.example',
  '/.//evil.example/x', '/..//x', '/a/..//x', '/%2e//x', '/%2E//x', '/%2e%2e//x', '/.%2e//evil.example',
  '/./%2e//evil.example', '/a/%2e%2e//evil.example', '/a/b/../../..//evil.example', '/x/../.././/evil.example',
  '/.//./evil.example', '/..\\evil.example', '/%2e\\/evil.example', '/..%2f%2fevil.example',
  'https://evil.example', 'http://evil.example/', 'http:evil.example', 'https:/evil.example', 'HTTPS://evil.example',
  'javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>alert(1)</script>', 'evil.example', ' /x',
  '/\t/evil.example', '/\n/evil.example', '/\r\n/evil.example', '\t//evil.example', '/\u0000/evil.example',
  '//evil.example@placements.example', '//placements.example@evil.example', '/%5c/evil.example', '//%65vil.example',
  '', '/' + 'a'.repeat(600)
]

function lands(path: string): URL {
  return new URL(path, service)
}

test(`${hostile.length} hostile return paths never lead off-site`, () => {
  assert.ok(hostile.length >= 40)
  const offSite = hostile.filter((value) => {
    const result = safeReturnPath(value)
    if (result === undefined) return false
    return lands(result).origin !== service || !/^\/(?![/\\])/.test(result)
  })
  assert.deepEqual(offSite, [])
})

test('the values the review found leading off-site are refused', () => {
  for (const value of ['/.//evil.example/x', '/..//x', '/a/..//x', '/%2e//x']) {
    assert.equal(safeReturnPath(value), undefined, value)
  }
})

test('ordinary paths come back as they were (normalised), query included', () => {
  assert.equal(safeReturnPath('/organisations/0b0c/users?page=2'), '/organisations/0b0c/users?page=2')
  assert.equal(safeReturnPath('/support/audit'), '/support/audit')
  assert.equal(safeReturnPath('/'), '/')
  assert.equal(safeReturnPath('/a/../support/organisations'), '/support/organisations')
  assert.equal(safeReturnPath('/%2f/x'), '/%2f/x', 'an encoded slash stays encoded: one path segment, same site')
})

test('anything that is not a string is refused', () => {
  for (const value of [undefined, null, 42, ['/x'], { toString: () => '/x' }]) assert.equal(safeReturnPath(value), undefined)
})
