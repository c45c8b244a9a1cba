import type { Express } from 'express'
import { sql, type Kysely } from 'kysely'
import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'
import { countStoreError } from '../../platform/metrics.ts'
import { isOutage, retryAfterSeconds } from '../../platform/outages.ts'

/**
 * oidc-provider's endpoints run in Koa, out of reach of Express' error pages, and answer
 * any failure of the store with their own 500 ("server_error"). A store that cannot be
 * reached is an outage, not a bug: 503 with Retry-After, the GOV.UK "service unavailable"
 * page for people and a JSON error for services (the token endpoint).
 *
 * Resuming an authorization request (`/auth/:uid`, after the person has signed in)
 * deletes the stored request before it reads the client and the account from the
 * database; if the database failed there, trying again would find nothing. So the
 * database is asked first, and while it is down the request stays where it is.
 */
export function answerOutagesWithUnavailable(provider: Provider, options: { app: Express, db: Kysely<never> }): void {
  // The provider's own error handlers catch the error, render their page and tell us here.
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: unknown) => {
    if (isOutage(error)) outageOf(ctx).outage = true
  })
  provider.use(async (ctx, next) => {
    try {
      if (/^\/auth\/[^/]+$/.test(ctx.path)) await sql`select 1`.execute(options.db)
      await next()
    } catch (error) {
      if (!isOutage(error)) throw error
      outageOf(ctx).outage = true
    }
    if (!outageOf(ctx).outage) return
    countStoreError('provider')
    ctx.status = 503
    ctx.set('Retry-After', String(retryAfterSeconds.outage))
    ctx.set('Cache-Control', 'no-store')
    // People reach the authorization and sign-out endpoints in a browser; services call the rest.
    if (!/^\/(auth|session\/end)(\/|$)/.test(ctx.path)) {
      ctx.body = { error: 'temporarily_unavailable', error_description: 'The service is unavailable; try again later' }
      return
    }
    ctx.type = 'html'
    ctx.body = await renderPage(options.app, (ctx.res as unknown as { locals?: { cspNonce?: string } }).locals?.cspNonce)
  })
}

function outageOf(ctx: { state: unknown }): { outage?: boolean } {
  return ctx.state as { outage?: boolean }
}

function renderPage(app: Express, cspNonce: string | undefined): Promise<string> {
  return new Promise((resolve) => {
    app.render('errors/service-unavailable.njk', { cspNonce }, (error: Error | null, html?: string) => {
      resolve(error || html === undefined ? 'Sorry, the service is unavailable. Wait a few minutes, then try again.' : html)
    })
  })
}
