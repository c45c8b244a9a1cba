import { generateClientSecret, registerClient } from '../signin/provider/clients.ts'
import { parseArguments, withSigninDatabase } from './signin-database.ts'

/**
 * `npm run clients -- register --id ID --name NAME --redirect-uri URI [--redirect-uri URI…]
 *   --post-logout-redirect-uri URI [--client-uri URI] [--backchannel-logout-uri URI] [--jwks-uri URI | --secret SECRET]`
 * Registers a service or updates it. Without --jwks-uri (private_key_jwt) a new secret is
 * generated and printed once; only its digest is stored.
 * `npm run clients -- list` shows the registered services.
 */
const usage = 'usage: npm run clients -- register --id ID --name NAME --redirect-uri URI --post-logout-redirect-uri URI [--client-uri URI] [--backchannel-logout-uri URI] [--jwks-uri URI | --secret SECRET]\n       npm run clients -- list'

const { command, options } = parseArguments(process.argv.slice(2))
const one = (name: string) => options.get(name)?.at(-1)
await withSigninDatabase(async (db) => {
  try {
    if (command === 'list') {
      const rows = await db.selectFrom('clients').select(['client_id', 'name', 'metadata']).orderBy('client_id').execute()
      for (const row of rows) console.warn(`${row.client_id}\t${row.name}\t${row.metadata.redirect_uris.join(' ')}`)
    } else if (command === 'register') {
      const clientId = one('id')
      const name = one('name')
      const redirectUris = options.get('redirect-uri') ?? []
      const postLogoutRedirectUris = options.get('post-logout-redirect-uri') ?? []
      if (!clientId || !name || redirectUris.length === 0) throw new Error(usage)
      const jwksUri = one('jwks-uri')
      const secret = jwksUri ? undefined : one('secret') ?? generateClientSecret()
      await registerClient(db, { clientId, name, redirectUris, postLogoutRedirectUris, clientUri: one('client-uri'), backchannelLogoutUri: one('backchannel-logout-uri'), secret, jwksUri }, new Date())
      console.warn(`Registered ${clientId} (${name}).`)
      if (secret && !one('secret')) console.warn(`Client secret (shown once, store it in the service's configuration):\n${secret}`)
    } else {
      throw new Error(usage)
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : error)
    process.exitCode = 1
  }
})
