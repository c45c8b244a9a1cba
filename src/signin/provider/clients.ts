import { createHash, randomBytes } from 'node:crypto'
import type { Kysely, Selectable } from 'kysely'
import type { ClientMetadataRow, SigninDatabase } from '../database/schema.ts'

/**
 * Services that sign people in through us. Secrets are stored as SHA-256 digests: they
 * are 256-bit random values, so a slow hash adds nothing, and a leaked table gives
 * nothing usable. oidc-provider compares the presented secret with the stored one, so
 * the presented secret is turned into its digest first (client-authentication.ts).
 */
export interface ClientRegistration {
  clientId: string
  name: string
  redirectUris: string[]
  postLogoutRedirectUris: string[]
  clientUri?: string | undefined
  /** The service's back-channel logout endpoint (sessions are identified by `sid`). */
  backchannelLogoutUri?: string | undefined
  /** Plain secret to store (hashed); omit with `jwksUri`/`jwks` for private_key_jwt. */
  secret?: string | undefined
  jwksUri?: string | undefined
  jwks?: { keys: Record<string, unknown>[] } | undefined
  authMethod?: ClientMetadataRow['token_endpoint_auth_method'] | undefined
}

export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex')
}

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url')
}

export async function registerClient(db: Kysely<SigninDatabase>, registration: ClientRegistration, now: Date): Promise<void> {
  for (const uri of [...registration.redirectUris, ...registration.postLogoutRedirectUris, ...(registration.clientUri ? [registration.clientUri] : []), ...(registration.backchannelLogoutUri ? [registration.backchannelLogoutUri] : [])]) {
    const url = new URL(uri)
    if (url.protocol !== 'https:' && url.hostname !== 'localhost') throw new Error(`${uri} must use https (or be on localhost)`)
    if (url.hash) throw new Error(`${uri} must not have a fragment`)
  }
  const authMethod = registration.authMethod ?? (registration.secret ? 'client_secret_basic' : 'private_key_jwt')
  if (authMethod === 'private_key_jwt' && !registration.jwksUri && !registration.jwks) throw new Error('private_key_jwt needs a JWKS or JWKS URI')
  if (authMethod !== 'private_key_jwt' && !registration.secret) throw new Error(`${authMethod} needs a secret`)
  const metadata: ClientMetadataRow = {
    redirect_uris: registration.redirectUris,
    post_logout_redirect_uris: registration.postLogoutRedirectUris,
    token_endpoint_auth_method: authMethod,
    ...(registration.clientUri ? { client_uri: registration.clientUri } : {}),
    ...(registration.backchannelLogoutUri ? { backchannel_logout_uri: registration.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    ...(registration.jwksUri ? { jwks_uri: registration.jwksUri } : {}),
    ...(registration.jwks ? { jwks: registration.jwks } : {})
  }
  const secretHash = registration.secret ? digestSecret(registration.secret) : null
  const json = JSON.stringify(metadata) as unknown as ClientMetadataRow
  await db.insertInto('clients').values({
    client_id: registration.clientId, name: registration.name, metadata: json, secret_hash: secretHash, created_at: now, updated_at: now
  }).onConflict((c) => c.column('client_id').doUpdateSet({ name: registration.name, metadata: json, secret_hash: secretHash, updated_at: now }))
    .execute()
}

export async function findClient(db: Kysely<SigninDatabase>, clientId: string) {
  if (clientId.length > 200) return undefined
  return db.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirst()
}

export function clientMetadataFor(row: Selectable<SigninDatabase['clients']>): Record<string, unknown> {
  return {
    client_id: row.client_id,
    client_name: row.name,
    ...row.metadata,
    ...(row.secret_hash ? { client_secret: row.secret_hash } : {}),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256'
  }
}

/** Where "go back to the service" leads: its start page, else its origin. */
export function serviceStartUrl(metadata: ClientMetadataRow): string | undefined {
  if (metadata.client_uri) return metadata.client_uri
  const first = metadata.redirect_uris[0]
  return first ? new URL(first).origin + '/' : undefined
}
