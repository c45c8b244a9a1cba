import { test } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { hash, type Algorithm } from '@node-rs/argon2'
import { argon2Parameters, defaultHashing, hashPassword, HashingBusyError, limitPasswordHashing, needsRehash, passwordHashingLoad, spendOneHash, verifyPassword } from './passwords.ts'

const argon2i: Algorithm = 1
const argon2id: Algorithm = 2

test('the parameters are the OWASP Argon2id minimum', () => {
  assert.deepEqual(argon2Parameters, { memoryCost: 19456, timeCost: 2, parallelism: 1 })
})

test('a hash is an Argon2id PHC string carrying m=19456,t=2,p=1 and a 16-byte salt', async () => {
  const phc = await hashPassword('purple tiger umbrella seven')
  const match = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc)
  assert.ok(match, phc)
  assert.equal(Buffer.from(match[1]!, 'base64').length, 16)
  assert.equal(needsRehash(phc), false)
})

test('hashing the same password twice gives different hashes (random salt)', async () => {
  const [a, b] = await Promise.all([hashPassword('same password here'), hashPassword('same password here')])
  assert.notEqual(a, b)
})

test('verifyPassword accepts the right password and rejects others', async () => {
  const phc = await hashPassword('purple tiger umbrella seven')
  assert.equal(await verifyPassword(phc, 'purple tiger umbrella seven'), true)
  assert.equal(await verifyPassword(phc, 'Purple tiger umbrella seven'), false)
  assert.equal(await verifyPassword(phc, 'purple tiger umbrella seven '), false)
  assert.equal(await verifyPassword(phc, ''), false)
})

test('the whole password counts: no truncation of long passwords', async () => {
  const long = 'x'.repeat(255)
  const phc = await hashPassword(long + 'a')
  assert.equal(await verifyPassword(phc, long + 'a'), true)
  assert.equal(await verifyPassword(phc, long + 'b'), false)
})

test('composed and decomposed spellings of the same password verify alike (NFKC)', async () => {
  const composed = 'caf\u00e9 au lait every morning'
  const decomposed = 'cafe\u0301 au lait every morning'
  assert.notEqual(composed, decomposed)
  const phc = await hashPassword(composed)
  assert.equal(await verifyPassword(phc, decomposed), true)
})

test('verifyPassword returns false, without throwing, for malformed hashes', async () => {
  const good = await hashPassword('purple tiger umbrella seven')
  const malformed = [
    '',
    'not a hash',
    '$argon2id$',
    good.slice(0, -10),
    good.replace('$v=19$', '$v=banana$'),
    '$2b$12$abcdefghijklmnopqrstuuQ4Zf4Gd8e5ZC9mXQ1VZx2kqYq0a6Nbu'
  ]
  for (const hash of malformed) {
    assert.equal(await verifyPassword(hash, 'purple tiger umbrella seven'), false, hash)
  }
})

test('needsRehash is true for weaker parameters, another algorithm or an unreadable hash', async () => {
  const weakerMemory = await hash('p', { memoryCost: 1024, timeCost: 2, parallelism: 1, algorithm: argon2id })
  const weakerTime = await hash('p', { memoryCost: 19456, timeCost: 1, parallelism: 1, algorithm: argon2id })
  const otherAlgorithm = await hash('p', { ...argon2Parameters, algorithm: argon2i })
  assert.match(weakerMemory, /\$m=1024,t=2,p=1\$/)
  assert.equal(needsRehash(weakerMemory), true)
  assert.equal(needsRehash(weakerTime), true)
  assert.equal(needsRehash(otherAlgorithm), true)
  assert.equal(needsRehash(weakerMemory.replace('m=1024,t=2,p=1', 'm=19456,t=2,p=0')), true)
  assert.equal(needsRehash('$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'), true)
  assert.equal(needsRehash(''), true)
  assert.equal(needsRehash('not a hash'), true)
})

test('needsRehash is false for stronger parameters of the same family', async () => {
  const stronger = await hash('p', { memoryCost: 19456, timeCost: 3, parallelism: 1, algorithm: argon2id })
  assert.equal(needsRehash(stronger), false)
})

test('spendOneHash does the work of one verification', async () => {
  const phc = await hashPassword('purple tiger umbrella seven')
  await spendOneHash('warm up: the dummy hash is made on first use')
  const fastest = async (work: () => Promise<unknown>) => {
    let best = Infinity
    for (let i = 0; i < 3; i++) {
      const start = performance.now()
      await work()
      best = Math.min(best, performance.now() - start)
    }
    return best
  }
  const verifying = await fastest(() => verifyPassword(phc, 'a wrong guess at it'))
  const spending = await fastest(() => spendOneHash('a wrong guess at it'))
  assert.equal(await spendOneHash('anything'), undefined)
  // Loose bound: timing is noisy, but a shortcut (no hashing) would be ~100 times faster.
  assert.ok(spending > verifying / 4, `spendOneHash ${spending.toFixed(1)} ms vs verify ${verifying.toFixed(1)} ms`)
})

test('at most `concurrency` hashes run at once; the rest wait their turn and all finish', async (t) => {
  limitPasswordHashing({ concurrency: 1, maxWaiting: 100 })
  t.after(() => limitPasswordHashing(defaultHashing))
  const phc = await hashPassword('purple tiger umbrella seven')
  let done = false
  let most = 0
  const all = Promise.all(Array.from({ length: 20 }, (_, i) => verifyPassword(phc, i === 7 ? 'purple tiger umbrella seven' : `wrong guess ${i}`)))
    .finally(() => { done = true })
  while (!done) {
    most = Math.max(most, passwordHashingLoad().running)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  const results = await all
  assert.equal(most, 1)
  assert.deepEqual(results.map((r, i) => [i, r]).filter(([, r]) => r), [[7, true]])
  assert.deepEqual(passwordHashingLoad(), { running: 0, waiting: 0 })
})

test('past the waiting limit, a hash is refused at once (503) instead of queueing without end', async (t) => {
  limitPasswordHashing({ concurrency: 1, maxWaiting: 3 })
  t.after(() => limitPasswordHashing(defaultHashing))
  const phc = await hashPassword('purple tiger umbrella seven')
  const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => verifyPassword(phc, 'a wrong guess')))
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 4, 'one running and three waiting')
  const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as unknown)
  assert.equal(refused.length, 6)
  for (const error of refused) {
    assert.ok(error instanceof HashingBusyError)
    assert.equal(error.status, 503)
  }
})
