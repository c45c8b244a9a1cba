import type { Generated } from 'kysely'
import type { FeedbackTable } from '../../platform/feedback.ts'
import type { OutboxTable } from '../../platform/mail/outbox.ts'
import type { ShortLivedTable } from '../../platform/short-lived-store.ts'

/** Sign-in's own database. `accounts.id` is the OpenID `sub`: random, opaque, never reused. */
export interface SigninDatabase extends OutboxTable, ShortLivedTable, FeedbackTable {
  accounts: {
    id: Generated<string>
    email: string
    email_normalised: string
    given_name: string
    family_name: string
    password_hash: string
    created_at: Date
    password_changed_at: Date
    last_signed_in_at: Date | null
  }
  verification_codes: {
    id: Generated<string>
    purpose: CodePurpose
    email_normalised: string
    code_hash: string
    created_at: Date
    expires_at: Date
    wrong_attempts: Generated<number>
    /** Set when the code was used, replaced by a newer one, or killed by wrong entries. */
    closed_at: Date | null
    /** Set when the code was used (a used code no longer counts against the hourly limit). */
    used_at: Date | null
  }
  account_factors: {
    id: Generated<string>
    account_id: string
    kind: FactorKind
    /** What the person calls it ("Authenticator app"). */
    label: string
    /** Authenticator app: the TOTP secret, encrypted (AES-256-GCM). */
    secret_encrypted: string | null
    /** Authenticator app: the newest 30-second step accepted, so no code is accepted twice. */
    last_used_step: string | number | bigint | null
    /** Passkey (later): credential id, public key and signature counter. */
    credential_id: string | null
    public_key: string | null
    sign_count: string | number | bigint | null
    created_at: Date
    /** Null while being set up: an unconfirmed factor cannot be used to sign in. */
    confirmed_at: Date | null
    last_used_at: Date | null
  }
  recovery_codes: {
    id: Generated<string>
    account_id: string
    code_hash: string
    created_at: Date
    used_at: Date | null
  }
  clients: {
    client_id: string
    name: string
    metadata: ClientMetadataRow
    /** SHA-256 of a high-entropy secret; null for private_key_jwt clients. */
    secret_hash: string | null
    created_at: Date
    updated_at: Date
  }
  signing_keys: {
    kid: string
    private_jwk: Record<string, unknown>
    created_at: Date
    retired_at: Date | null
  }
  instance_secrets: {
    name: string
    value: string
    created_at: Date
  }
  oidc_payloads: {
    model: string
    id: string
    payload: Record<string, unknown>
    grant_id: string | null
    user_code: string | null
    uid: string | null
    expires_at: Date | null
    consumed_at: Date | null
  }
  audit_events: {
    id: Generated<string>
    at: Date
    event: string
    outcome: 'success' | 'failure'
    account_id: string | null
    email: string | null
    client_id: string | null
    ip: string | null
    details: Record<string, unknown>
  }
}

export type CodePurpose = 'confirm-email' | 'reset-password' | 'sign-in' | 'change-email'

/** Factors with a row of their own; every account also has its password and its email address. */
export type FactorKind = 'authenticator-app' | 'passkey'

export interface ClientMetadataRow {
  redirect_uris: string[]
  post_logout_redirect_uris: string[]
  /** OpenID Connect Back-Channel Logout: where the service is told that a person signed out here. */
  backchannel_logout_uri?: string
  backchannel_logout_session_required?: boolean
  /** The service's start page: where "go back to the service" leads. */
  client_uri?: string
  token_endpoint_auth_method: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'
  jwks_uri?: string
  jwks?: { keys: Record<string, unknown>[] }
}
