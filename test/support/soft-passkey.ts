import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import { isoCBOR } from '@simplewebauthn/server/helpers'

/**
 * A software authenticator for server-side tests of passkeys (ADR 12): a P-256 key made
 * with node:crypto, a `none` attestation and assertions built by hand (CBOR from
 * SimpleWebAuthn's helpers), exactly as a platform authenticator with user verification
 * would send them. The origin and RP ID it claims can be changed, to play a phishing site;
 * its sign count can be set, to play a copied key.
 */
export class SoftPasskey {
  readonly credentialId = randomBytes(16)
  readonly #privateKey: KeyObject
  readonly #publicKey: KeyObject
  /** The authenticator's use counter; 0 means it does not count (as many synced passkeys do). */
  signCount: number
  userHandle: string | undefined

  constructor(options: { signCount?: number } = {}) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.#privateKey = pair.privateKey
    this.#publicKey = pair.publicKey
    this.signCount = options.signCount ?? 0
  }

  get id(): string {
    return this.credentialId.toString('base64url')
  }

  /** Answers registration options, as `navigator.credentials.create()` would. */
  register(options: PublicKeyCredentialCreationOptionsJSON, as: { origin: string, rpId?: string }): RegistrationResponseJSON {
    this.userHandle = options.user.id
    const clientDataJSON = clientData('webauthn.create', options.challenge, as.origin)
    const jwk = this.#publicKey.export({ format: 'jwk' })
    const coseKey = isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2], [3, -7], [-1, 1],
      [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]
    ]))
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(this.credentialId.length)
    // Flags: user present (0x01), user verified (0x04), attested credential data (0x40).
    const authData = Buffer.concat([authenticatorData(as.rpId ?? options.rp.id!, 0x45, this.signCount), Buffer.alloc(16), idLength, this.credentialId, Buffer.from(coseKey)])
    const attestation = new Map<string, string | Map<string, string> | Uint8Array>()
    attestation.set('fmt', 'none').set('attStmt', new Map<string, string>()).set('authData', authData)
    const attestationObject = isoCBOR.encode(attestation)
    return {
      id: this.id, rawId: this.id, type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
      response: { clientDataJSON: clientDataJSON.toString('base64url'), attestationObject: Buffer.from(attestationObject).toString('base64url'), transports: ['internal'] }
    }
  }

  /**
   * Answers authentication options, as `navigator.credentials.get()` would: the counter
   * goes up first when this authenticator counts (or is set with `signCount`).
   */
  authenticate(options: PublicKeyCredentialRequestOptionsJSON, as: { origin: string, rpId?: string, signCount?: number, userVerified?: boolean }): AuthenticationResponseJSON {
    if (as.signCount !== undefined) this.signCount = as.signCount
    else if (this.signCount > 0) this.signCount++
    const clientDataJSON = clientData('webauthn.get', options.challenge, as.origin)
    const flags = as.userVerified === false ? 0x01 : 0x05
    const authData = authenticatorData(as.rpId ?? options.rpId!, flags, this.signCount)
    const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), this.#privateKey)
    return {
      id: this.id, rawId: this.id, type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'), authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'), ...(this.userHandle ? { userHandle: this.userHandle } : {})
      }
    }
  }
}

function clientData(type: string, challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }))
}

function authenticatorData(rpId: string, flags: number, signCount: number): Buffer {
  const counter = Buffer.alloc(4)
  counter.writeUInt32BE(signCount)
  return Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([flags]), counter])
}
