import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { createLogger } from './logger.ts'

test('passwords, codes, tokens, cookies and secrets never reach the log', () => {
  const lines: string[] = []
  const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  // The services' own logger, as they create it, writing to the test's sink.
  const log = createLogger('test', 'info', sink)
  log.info({
    body: { password: 'hunter2-hunter2-hunter2', code: '123456', _csrf: 'csrf-token-value' },
    req: { headers: { cookie: 'signin-session=session-id-value', authorization: 'Basic c2VjcmV0' } },
    params: { client_secret: 'client-secret-value', id_token_hint: 'eyJ.id.token' },
    token: 'access-token-value'
  }, 'request')
  const output = lines.join('')
  for (const secret of ['hunter2', '123456', 'csrf-token-value', 'session-id-value', 'c2VjcmV0', 'client-secret-value', 'eyJ.id.token', 'access-token-value']) {
    assert.ok(!output.includes(secret), `${secret} leaked into: ${output}`)
  }
  assert.match(output, /\[redacted\]/)
})
