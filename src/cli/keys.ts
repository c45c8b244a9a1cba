import { publishBeforeSigningSeconds, retireOldKeys, rotateSigningKey } from '../signin/provider/keys.ts'
import { withSigninDatabase } from './signin-database.ts'

/**
 * `npm run keys -- rotate`: adds a new signing key. Every running node publishes it
 * within a minute (no restart) and signs with it once it has been published for five
 * minutes; the previous key stays published so issued tokens still verify.
 * `npm run keys -- retire`: stops publishing all but the two newest keys.
 */
const command = process.argv[2]
await withSigninDatabase(async (db) => {
  if (command === 'rotate') {
    const kid = await rotateSigningKey(db, new Date())
    console.warn(`New signing key ${kid}: every Sign-in node publishes it within a minute, and signs with it in ${publishBeforeSigningSeconds / 60} minutes.`)
  } else if (command === 'retire') console.warn(`Retired ${await retireOldKeys(db, new Date())} key(s).`)
  else {
    console.error('usage: npm run keys -- rotate|retire')
    process.exitCode = 1
  }
})
