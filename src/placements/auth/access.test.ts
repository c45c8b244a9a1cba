import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { HttpSession } from '../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../test/support/placements.ts'
import { signInToPlacements } from '../../../test/support/placements-flow.ts'

let services: TestServices
before(async () => { services = await startTestServices() })
after(() => services.close())

test('a school user with one organisation goes straight to it', async () => {
  const http = new HttpSession()
  const page = await signInToPlacements(http, services.placements.url, 'anne.wilson@example.com')
  assert.equal(page.status, 200)
  assert.match(page.url, /\/organisations\/[0-9a-f-]{36}$/)
  assert.match(page.text, /Oakwood Primary School/)
})
