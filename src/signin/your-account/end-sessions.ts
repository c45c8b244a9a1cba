import type { AdapterPayload } from 'oidc-provider'
import type { SigninContext } from '../context.ts'
import { sessionsByAccount } from '../provider/adapters.ts'

/**
 * Signs an account out (ADR 11): each of its Sign-in sessions (all, or all but the one
 * in use) is deleted from the provider's store, so its cookie no longer signs anyone in;
 * then each service that session signed in to is told by back-channel logout (with the
 * session's sid), and the tokens of its grant are revoked. Returns how many sessions ended.
 */
export async function endSessions(context: SigninContext, accountId: string, options: { except?: string | undefined } = {}): Promise<number> {
  const provider = context.provider
  const adapter = provider.Session.adapter
  const ids = await sessionsByAccount(adapter).sessionIdsOf(accountId)
  let ended = 0
  for (const id of ids) {
    if (id === options.except) continue
    const payload = await adapter.find(id)
    if (!payload || payload.accountId !== accountId) continue
    // Gone first: from now on the cookie finds no session, whatever happens below.
    await adapter.destroy(id)
    ended++
    await signOutOfServices(context, accountId, payload)
  }
  return ended
}

interface BackchannelClient {
  backchannelLogoutUri?: string
  backchannelLogout(sub: string, sid: string): Promise<void>
}

type Authorizations = Record<string, { sid?: string, grantId?: string }>

async function signOutOfServices(context: SigninContext, accountId: string, session: AdapterPayload): Promise<void> {
  const provider = context.provider
  const authorizations = (session.authorizations ?? {}) as Authorizations
  await Promise.all(Object.entries(authorizations).map(async ([clientId, { sid, grantId }]) => {
    if (grantId) {
      await Promise.all([provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode].map((model) => model.adapter.revokeByGrantId(grantId)))
      await provider.Grant.adapter.destroy(grantId)
    }
    // oidc-provider's Client model has backchannelLogout (its end_session uses it); its types do not say so.
    const client = await provider.Client.find(clientId) as unknown as BackchannelClient | undefined
    if (!client?.backchannelLogoutUri || !sid) return
    try {
      await client.backchannelLogout(accountId, sid)
    } catch (error) {
      // The service keeps its session until it times out: worth knowing, not worth failing the change for.
      context.log.warn({ err: error, clientId }, 'back-channel logout not delivered')
    }
  }))
}
