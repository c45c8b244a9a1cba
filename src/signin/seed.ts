import type { Kysely } from 'kysely'
import { findAccountByEmail, insertAccount } from './accounts/accounts.ts'
import { hashPassword } from './accounts/passwords.ts'
import type { SigninDatabase } from './database/schema.ts'
import { findClient, registerClient } from './provider/clients.ts'
import { demoAppPersonaEmail, demoAppSecret, demoPassword, demoPersonas, demoRecoveryCodes } from '../demo/personas.ts'
import { addConfirmedApp } from './accounts/authenticator-app.ts'
import { addKnownRecoveryCodes } from './accounts/recovery-codes.ts'
import { instanceSecret } from './provider/keys.ts'

/** Development only: the Placements client and the demo personas' Sign-in accounts. */
export interface PlacementsClientSettings {
  clientId: string
  secret: string
  placementsUrl: string
}

export function developmentPlacementsClient(env: NodeJS.ProcessEnv = process.env): PlacementsClientSettings {
  return {
    clientId: env.PLACEMENTS_CLIENT_ID ?? 'manage-school-placements',
    secret: env.PLACEMENTS_CLIENT_SECRET ?? 'development-only-placements-client-secret',
    placementsUrl: (env.PLACEMENTS_URL ?? `http://localhost:${env.PLACEMENTS_PORT ?? 3000}`).replace(/\/$/, '')
  }
}

/**
 * Safe when several nodes start at once: registerClient is an upsert and insertAccount
 * inserts only if the address is free, so a node that loses a race changes nothing.
 */
export async function seedDevelopment(db: Kysely<SigninDatabase>, now: Date, client = developmentPlacementsClient()): Promise<void> {
  if (!await findClient(db, client.clientId)) {
    await registerClient(db, {
      clientId: client.clientId,
      name: 'Manage school placements',
      redirectUris: [`${client.placementsUrl}/auth/callback`],
      postLogoutRedirectUris: [`${client.placementsUrl}/signed-out`],
      clientUri: `${client.placementsUrl}/`,
      backchannelLogoutUri: `${client.placementsUrl}/auth/backchannel-logout`,
      secret: client.secret
    }, now)
  }
  for (const persona of demoPersonas) {
    if (await findAccountByEmail(db, persona.email)) continue
    const account = await insertAccount(db, { ...persona, passwordHash: await hashPassword(demoPassword) }, now)
    // The support persona signs in with an authenticator app (a fixed, development-only
    // secret), and has the recovery codes that come with one.
    if (account && persona.email === demoAppPersonaEmail) {
      const codeKey = Buffer.from(await instanceSecret(db, 'code-key', now, process.env.SIGNIN_CODE_KEY), 'utf8')
      await addConfirmedApp(db, account.id, demoAppSecret, codeKey, now)
      await addKnownRecoveryCodes(db, account.id, demoRecoveryCodes, codeKey, now)
    }
  }
}
