import { retireOldKeys, rotateSigningKey } from '../signin/provider/keys.ts'
import { openSigninDatabase } from './signin-database.ts'

/**
 * `npm run keys -- rotate`: a new signing key becomes the one used (after a restart of
 * every node); the previous one stays published so issued tokens still verify.
 * `npm run keys -- retire`: stops publishing all but the two newest keys.
 */
const command = process.argv[2]
const db = await openSigninDatabase()
try {
  if (command === 'rotate') console.warn(`New signing key ${await rotateSigningKey(db, new Date())}. Restart Sign-in to sign with it.`)
  else if (command === 'retire') console.warn(`Retired ${await retireOldKeys(db, new Date())} key(s).`)
  else {
    console.error('usage: npm run keys -- rotate|retire')
    process.exitCode = 1
  }
} finally {
  await db.destroy()
}
