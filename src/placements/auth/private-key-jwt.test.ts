import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { after, before, test } from 'node:test'
import { HttpSession } from '../../../test/support/http-client.ts'
import { startTestServices, type TestServices } from '../../../test/support/placements.ts'
import { signInToPlacements } from '../../../test/support/placements-flow.ts'
import { registerClient } from '../../signin/provider/clients.ts'

// A service that authenticates with a signed assertion (private_key_jwt) instead of a
// shared secret: Sign-in holds only the public key, Placements only the private one.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const kid = 'placements-test-key'
const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256' }
const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }

let services: TestServices
before(async () => {
  services = await startTestServices({ placementsEnv: { OIDC_PRIVATE_KEY_JWK: JSON.stringify(privateJwk) } })
  const url = services.placements.url
  await registerClient(services.signin.context.db, {
    clientId: 'manage-school-placements', name: 'Manage school placements',
    redirectUris: [`${url}/auth/callback`], postLogoutRedirectUris: [`${url}/signed-out`], clientUri: `${url}/`,
    jwks: { keys: [publicJwk] }
  }, new Date())
})
after(() => services.close())

test('Placements signs in through Sign-in with private_key_jwt client authentication', async () => {
  const row = await services.signin.context.db.selectFrom('clients').selectAll().where('client_id', '=', 'manage-school-placements').executeTakeFirstOrThrow()
  assert.equal(row.secret_hash, null, 'no shared secret is stored')
  assert.equal(row.metadata.token_endpoint_auth_method, 'private_key_jwt')
  const page = await signInToPlacements(new HttpSession(), services.placements.url, 'anne.wilson@example.com')
  assert.equal(page.status, 200)
  assert.match(page.text, /Oakwood Primary School/)
})

test('a token request with a secret instead of the signed assertion is refused', async () => {
  const response = await fetch(`${services.signin.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from('manage-school-placements:guess').toString('base64') },
    body: 'grant_type=authorization_code&code=x&redirect_uri=' + encodeURIComponent(`${services.placements.url}/auth/callback`)
  })
  assert.equal(response.status, 401)
})
