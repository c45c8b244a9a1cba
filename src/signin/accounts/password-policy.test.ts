import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { isCommonPassword } from './common-passwords.ts'
import {
  isEasilyGuessed, maxPasswordCodePoints, minPasswordCodePoints, passwordMessages, passwordProblems, passwordRules,
  type NewPasswordInput
} from './password-policy.ts'

const person = { email: 'jane.smith@example.com', givenName: 'Jane', familyName: 'Smith' }

function problems(password: string, extra: Partial<NewPasswordInput> = {}) {
  return passwordProblems({ ...person, password, confirmation: password, ...extra })
}

function problemWith(password: string, extra: Partial<NewPasswordInput> = {}) {
  return problems(password, extra).password
}

// Hex from a hash chain: long, not periodic, not a run, not on any list.
function unguessable(length: number): string {
  let text = ''
  let block = 'seed'
  while (text.length < length) {
    block = createHash('sha256').update(block).digest('hex')
    text += block
  }
  return text.slice(0, length)
}

test('the limits are 15 and 256 code points', () => {
  assert.equal(minPasswordCodePoints, 15)
  assert.equal(maxPasswordCodePoints, 256)
})

test('an acceptable password and matching confirmation give no problems', () => {
  for (const password of ['purple tiger umbrella seven', 'my cat likes warm toast', 'blue-fridge-moon-cactus', unguessable(40)]) {
    assert.deepEqual(problems(password), {}, password)
  }
})

test('an empty password is missing', () => {
  assert.deepEqual(problems(''), { password: 'missing' })
})

test('14 code points is too short and 15 is enough, counting code points not UTF-16 units or bytes', () => {
  assert.equal(problemWith(unguessable(14)), 'too-short')
  assert.equal(problemWith(unguessable(15)), undefined)
  // Emoji are two UTF-16 units each: 16 units but 14 characters.
  const emoji14 = 'tiger🐯moon🌙cak'
  assert.equal(emoji14.length, 16)
  assert.equal(problemWith(emoji14), 'too-short')
  assert.equal(problemWith('tiger🐯moon🌙cake'), undefined)
  // Accented letters are two bytes in UTF-8 but one character.
  assert.equal(Buffer.byteLength('Grüße aus Köln'), 17)
  assert.equal(problemWith('Grüße aus Köln'), 'too-short')
  assert.equal(problemWith('Grüße aus Köln!'), undefined)
})

test('256 code points is allowed and 257 is too long, with nothing cut off', () => {
  assert.equal(problemWith(unguessable(256)), undefined)
  assert.equal(problemWith(unguessable(257)), 'too-long')
  // 256 emoji are 512 UTF-16 units, still 256 characters.
  const emoji256 = Array.from({ length: 256 }, (_, i) => String.fromCodePoint(0x1f300 + (i * 37) % 256)).join('')
  assert.equal(emoji256.length, 512)
  assert.equal(problemWith(emoji256), undefined)
  assert.equal(problemWith(emoji256 + '🍋'), 'too-long')
})

test('a difference in the 256th character still counts (no truncation)', () => {
  const start = unguessable(255)
  assert.deepEqual(problems(start + 'a', { confirmation: start + 'b' }), { confirmPassword: 'mismatch' })
})

test('no composition rules: lower-case letters and spaces only is fine', () => {
  assert.equal(problemWith('walrus kettle orbit plum'), undefined)
})

test('passwords on the list are too common, whatever their case', () => {
  for (const password of ['1qaz2wsx3edc4rfv', '1QAZ2WSX3EDC4RFV', 'passwordpassword', 'qwertyuiopasdfghjkl']) {
    assert.equal(isCommonPassword(password), true, `${password} should be on the list for this test`)
    assert.equal(problemWith(password), 'too-common', password)
  }
})

// Each of these is off the list as typed, so only the "easily guessed" rules catch it.
const easilyGuessed: Record<string, string[]> = {
  'a listed password with digits or symbols added': ['Password12345678!', '!!!!2024sunshine', 'football 2024 !!!', '9876543trustno1'],
  'a listed password with look-alike symbols': ['ch0c0l4t3!!!!!!!', 'b45k37b4ll2024!!', 'str4wb3rry 12345', '!!!!!!p1n34ppl3', '4v0c4d0!!!!!!!!!', 'g0r1ll4########'],
  'one character repeated': ['bbbbbbbbbbbbbbbbb', '               ', '🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂'],
  'a short chunk repeated': ['abcabcabcabcabc', 'xq7!xq7!xq7!xq7!', 'Xk9#mP2$qLXk9#mP2$qL', 'xyzxyzxyzxyz 2024'],
  'a listed password repeated': ['monkeymonkeymonkey', 'trustno1trustno1', 'iloveyou iloveyou', 'passwordstandardpasswordstandard'],
  'an alphabet run': ['abcdefghijklmnopq', 'ponmlkjihgfedcba', 'uvwxyzabcdefghij', 'αβγδεζηθικλμνξοπ'],
  'a number run': ['890123456789012', '987654321098765'],
  'a run with digits or symbols added': ['hijklmnopqrs!!!!', '2024 ghjklasdf!!'],
  'a keyboard run': ['mnbvcxzlkjhgfdsa', 'zaq1xsw2cde3vfr4bgt5', 'azertyuiopqsdfgh', 'qwertyuiop123456'],
  'a listed password in full-width letters': ['ｐａｓｓｗｏｒｄ１２３４５６７８']
}

for (const [kind, passwords] of Object.entries(easilyGuessed)) {
  test(`too common: ${kind}`, () => {
    for (const password of passwords) {
      assert.equal(isCommonPassword(password), false, `${password} is on the list, so it does not test the rule`)
      assert.ok([...password].length >= 15, `${password} is too short to test the rule`)
      assert.equal(isEasilyGuessed(password), true, password)
      assert.equal(problemWith(password), 'too-common', password)
    }
  })
}

test('the easily-guessed rules leave ordinary passphrases alone', () => {
  for (const password of [
    'correct horse battery staple', 'the quick brown fox jumps', 'dragon2024dragon', 'elephant kettle river',
    'Tr0ub4dor&3horse', 'sixty-two paper lanterns', 'αλεπού και σκύλος', '猫が好きな青い傘と月'
  ]) {
    assert.equal(isEasilyGuessed(password), false, password)
  }
})

test('checking a worst-case 256-character password stays quick', () => {
  isEasilyGuessed('warm up: load the list first')
  // Many digit/symbol changes at both ends once meant thousands of candidate cores.
  const password = '1!'.repeat(64) + 'word' + '2#'.repeat(62)
  assert.equal([...password].length, 256)
  const start = performance.now()
  isEasilyGuessed(password)
  isEasilyGuessed('a'.repeat(255) + 'b')
  assert.ok(performance.now() - start < 250, `took ${(performance.now() - start).toFixed(0)} ms`)
})

test('a password containing the whole email address is refused, whatever the case', () => {
  const input = { email: 'jo@example.com', givenName: '', familyName: '' }
  assert.equal(problemWith('reach me at JO@EXAMPLE.COM please', input), 'contains-personal')
})

test('a password containing the email local part (4+ characters) is refused', () => {
  const input = { email: 'jane.smith@example.com', givenName: undefined, familyName: undefined }
  assert.equal(problemWith('moonlight JANE.SMITH river', input), 'contains-personal')
  // A local part under 4 characters would match too much ordinary text.
  assert.equal(problemWith('enjoy the quiet river', { email: 'jo@example.com' }), undefined)
})

test('a password containing the given or family name (3+ characters) is refused', () => {
  const base = { email: 'a.b@example.com' }
  assert.equal(problemWith('alexander the great lemon', { ...base, givenName: 'Alexander' }), 'contains-personal')
  assert.equal(problemWith('green Okonkwo garden gate', { ...base, familyName: 'okonkwo' }), 'contains-personal')
  assert.equal(problemWith('sunny maryann afternoon', { ...base, givenName: 'Mary Ann' }), 'contains-personal')
  assert.equal(problemWith('sunny mary ann afternoon', { ...base, givenName: 'Mary Ann' }), 'contains-personal')
  assert.equal(problemWith('Always tall windows open', { ...base, givenName: 'Al' }), undefined)
})

test('empty personal details do not match every password', () => {
  assert.equal(problemWith('purple tiger umbrella seven', { email: '', givenName: '', familyName: '   ' }), undefined)
})

test('the confirmation must be given and must match exactly', () => {
  const password = 'purple tiger umbrella seven'
  assert.deepEqual(problems(password, { confirmation: '' }), { confirmPassword: 'confirmation-missing' })
  assert.deepEqual(problems(password, { confirmation: 'purple tiger umbrella sever' }), { confirmPassword: 'mismatch' })
  assert.deepEqual(problems(password, { confirmation: 'Purple tiger umbrella seven' }), { confirmPassword: 'mismatch' })
  assert.deepEqual(problems(password, { confirmation: password + ' ' }), { confirmPassword: 'mismatch' })
})

test('the confirmation is only checked once the password itself is acceptable', () => {
  assert.deepEqual(problems('short', { confirmation: '' }), { password: 'too-short' })
  assert.deepEqual(problems('short', { confirmation: 'different' }), { password: 'too-short' })
})

test('every problem has its GOV.UK-style message', () => {
  assert.deepEqual(passwordMessages, {
    'missing': 'Enter a password',
    'too-short': 'Password must be 15 characters or more',
    'too-long': 'Password must be 256 characters or fewer',
    'too-common': 'Enter a password that is harder to guess. This password is on a list of passwords that are often used or have been leaked',
    'contains-personal': 'Password must not contain your email address or name',
    'confirmation-missing': 'Confirm your password',
    'mismatch': 'Passwords do not match'
  })
})

test('the rules shown on the page state the limits', () => {
  assert.deepEqual(passwordRules, [
    'Your password must be at least 15 characters long',
    'It can be up to 256 characters',
    'You can use a long phrase of several words that are easy for you to remember',
    'It must not contain your name or email address',
    'It must not be a common password'
  ])
})
