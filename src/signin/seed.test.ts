import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { demoAppPersonaEmail, demoRecoveryCodes } from '../demo/personas.ts'
import { startTestSignin, type TestSignin } from '../../test/support/signin.ts'
import { findAccountByEmail } from './accounts/accounts.ts'
import { secondFactorsOf } from './accounts/factors.ts'
import { normaliseRecoveryCode, useRecoveryCode } from './accounts/recovery-codes.ts'
import { seedDevelopment } from './seed.ts'

// The development seed: Colin, the support persona, has an authenticator app and, as
// everyone with one does, recovery codes (the README lists them).
let signin: TestSignin
before(async () => {
  signin = await startTestSignin()
  await seedDevelopment(signin.context.db, new Date(), { clientId: 'unused', secret: 'unused-secret-0123456789', placementsUrl: 'http://localhost:4998' })
})
after(() => signin.close())

test('Colin is seeded with 10 recovery codes, each of which works once', async () => {
  const colin = (await findAccountByEmail(signin.context.db, demoAppPersonaEmail))!
  assert.deepEqual(await secondFactorsOf(signin.context.db, colin.id), ['authenticator-app', 'email-code', 'recovery-code'])
  assert.equal(demoRecoveryCodes.length, 10)
  const now = new Date()
  const { db, store, codeKey } = signin.context
  const first = await useRecoveryCode(db, store, codeKey, colin.id, normaliseRecoveryCode(demoRecoveryCodes[0]!)!, now)
  assert.deepEqual(first, { result: 'correct', remaining: 9 })
  const again = await useRecoveryCode(db, store, codeKey, colin.id, normaliseRecoveryCode(demoRecoveryCodes[0]!)!, now)
  assert.equal(again.result, 'incorrect')
  // Seeding again (another node, a restart) adds nothing.
  await seedDevelopment(db, new Date(), { clientId: 'unused', secret: 'unused-secret-0123456789', placementsUrl: 'http://localhost:4998' })
  const rows = await db.selectFrom('recovery_codes').select('id').where('account_id', '=', colin.id).execute()
  assert.equal(rows.length, 10)
})
