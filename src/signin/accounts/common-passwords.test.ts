import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { commonPasswordCount, isCommonPassword } from './common-passwords.ts'

test('the list holds at least 100,000 passwords (docs/security.md)', () => {
  assert.ok(commonPasswordCount() >= 100_000, `${commonPasswordCount()} passwords`)
})

test('listed passwords are found whatever their case', () => {
  assert.equal(isCommonPassword('password'), true)
  assert.equal(isCommonPassword('Password'), true)
  assert.equal(isCommonPassword('PASSWORD'), true)
  assert.equal(isCommonPassword('1qaz2wsx3edc4rfv'), true)
  assert.equal(isCommonPassword('1234567890qwertyuiop'), true)
})

test('entries listed only in capitals or with a trailing carriage return still match', () => {
  // 'Mailcreated5240' appears only capitalised, '0000000000987' only as a CRLF line.
  assert.equal(isCommonPassword('mailcreated5240'), true)
  assert.equal(isCommonPassword('0000000000987'), true)
})

test('entries beyond ASCII are found whatever their case', () => {
  // 'пароль' (Russian for 'password') is listed in lower case.
  assert.equal(isCommonPassword('пароль'), true)
  assert.equal(isCommonPassword('Пароль'), true)
})

test('a random passphrase is not on the list', () => {
  assert.equal(isCommonPassword(randomBytes(15).toString('base64url')), false)
  assert.equal(isCommonPassword('purple tiger umbrella seven'), false)
  assert.equal(isCommonPassword(''), false)
})
