import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { codesMatch, generateCode, hashCode, normaliseCodeInput } from './six-digit-codes.ts'

test('generateCode gives 6 ASCII digits, zero-padded, and varies', () => {
  const codes = Array.from({ length: 2000 }, generateCode)
  for (const code of codes) assert.match(code, /^[0-9]{6}$/)
  assert.ok(new Set(codes).size > 1900, 'codes repeat far more than chance allows')
  // About 1 in 10 codes starts with 0; with 2000 draws missing them all means no padding.
  assert.ok(codes.some(code => code.startsWith('0')), 'no code with a leading zero')
})

test('hashCode is a keyed HMAC-SHA-256: hex, stable for one key, different for another', () => {
  const key = randomBytes(32)
  const hashed = hashCode('123456', key)
  assert.match(hashed, /^[0-9a-f]{64}$/)
  assert.equal(hashCode('123456', key), hashed)
  assert.notEqual(hashCode('123457', key), hashed)
  assert.notEqual(hashCode('123456', randomBytes(32)), hashed)
  // Known answer (Python's hmac module), so a switch to a bare hash or another algorithm is caught.
  assert.equal(hashCode('123456', Buffer.from('key')), '4df81f55d708ae1720d5f65ef42f3475dc168fa23fde424ac5944f87c309b05f')
})

test('normaliseCodeInput strips spaces and dashes and accepts only 6 ASCII digits', () => {
  assert.equal(normaliseCodeInput('123456'), '123456')
  assert.equal(normaliseCodeInput(' 123 456 '), '123456')
  assert.equal(normaliseCodeInput('123-456'), '123456')
  assert.equal(normaliseCodeInput('1 2-3 4-5 6'), '123456')
  assert.equal(normaliseCodeInput('\t012345\n'), '012345')
  assert.equal(normaliseCodeInput('123\u2013456'), '123456')
  assert.equal(normaliseCodeInput(''), undefined)
  assert.equal(normaliseCodeInput('12345'), undefined)
  assert.equal(normaliseCodeInput('1234567'), undefined)
  assert.equal(normaliseCodeInput('12345a'), undefined)
  assert.equal(normaliseCodeInput('123.456'), undefined)
  assert.equal(normaliseCodeInput('+123456'), undefined)
  // Arabic-Indic and full-width digits are digits to Unicode but not codes we sent.
  assert.equal(normaliseCodeInput('\u0661\u0662\u0663\u0664\u0665\u0666'), undefined)
  assert.equal(normaliseCodeInput('\uff11\uff12\uff13\uff14\uff15\uff16'), undefined)
  assert.equal(normaliseCodeInput('1'.repeat(6) + ' '.repeat(100)), undefined)
})

test('codesMatch compares hashes exactly and rejects empty or differently sized input', () => {
  const key = randomBytes(32)
  const stored = hashCode('123456', key)
  assert.equal(codesMatch(stored, hashCode('123456', key)), true)
  assert.equal(codesMatch(stored, hashCode('654321', key)), false)
  assert.equal(codesMatch(stored, stored.slice(0, -1)), false)
  assert.equal(codesMatch(stored, ''), false)
  assert.equal(codesMatch('', ''), false)
  // Both would decode to zero bytes as hex; as text they differ.
  assert.equal(codesMatch('zz', 'yy'), false)
})
