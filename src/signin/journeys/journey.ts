import type { NextFunction, Request, Response } from 'express'
import type { Interaction } from 'oidc-provider'
import { isOutage } from '../../platform/outages.ts'
import type { ClientMetadataRow } from '../database/schema.ts'
import { findClient, serviceStartUrl } from '../provider/clients.ts'
import { lifetimes } from '../provider/provider.ts'
import type { SigninContext } from '../context.ts'
import { authenticationResult, type Acr, type ProvenMethod } from '../accounts/factors.ts'
import type { Origin } from '../accounts/actions.ts'
import type { EmailContext } from '../emails.ts'

/**
 * What Sign-in remembers about one authorization request while the person takes a
 * detour (create an account, confirm the address, reset a password): kept in the web
 * session under the interaction's uid, so the request that brought them survives every
 * step and they finish in the service that asked.
 */
export interface Journey {
  clientId: string
  /** The service's name and start page, read once per journey rather than on every page. */
  service?: { name: string, startUrl: string | undefined }
  registration?: {
    givenName: string
    familyName: string
    email: string
    confirmed: boolean
    accountId?: string
  }
  reset?: {
    email: string
    confirmed: boolean
    accountId?: string
    done: boolean
  }
  /**
   * Between the password and the second factor: who is signing in, what they have
   * proven so far in this sign-in, and the level the service asked for (if any).
   */
  signingIn?: {
    accountId: string
    email: string
    proven: ProvenMethod[]
    target?: Acr | undefined
    /** The unconfirmed authenticator app being set up in this sign-in. */
    settingUpApp?: string
    /** New recovery codes, kept only until the person has seen them and carried on. */
    newRecoveryCodes?: string[]
    /** Recovery codes left after one was used in this sign-in. */
    recoveryRemaining?: number
  }
  /** A one-time success message for the next page. */
  banner?: string
}

export interface InteractionLocals {
  uid: string
  interaction: Interaction
  journey: Journey
  client: { clientId: string, name: string, startUrl: string | undefined }
  loginHint: string | undefined
}

declare module 'express-serve-static-core' {
  interface Request {
    signin: InteractionLocals
  }
}

const uidShape = /^[A-Za-z0-9_-]{10,64}$/
const clientsKey = 'clientsByInteraction'
const expiredClientKey = (uid: string) => `interaction-client:${uid}`

/**
 * A new session id when the person proves something (no fixation): keeps only what leads
 * back to services, and this request's journey.
 */
export function renewSession(req: Request): void {
  req.session.regenerate({ [clientsKey]: req.session.get(clientsKey) })
  saveJourney(req)
}

/** Where this request comes from, for the verbs' audit events: the IP address and the service that asked. */
export function originOf(req: Request): Origin {
  return { ip: req.ip, clientId: req.signin.client.clientId }
}

/** What an email sent during this journey says about the service it leads to. */
export function emailContext(context: SigninContext, req: Request): EmailContext {
  return { signinName: context.config.serviceName, clientName: req.signin.client.name, serviceStartUrl: req.signin.client.startUrl }
}

export function saveJourney(req: Request): void {
  req.session.set(`journey:${req.signin.uid}`, req.signin.journey)
}

/** Loads the authorization request, or explains plainly that it has expired. */
export function loadInteraction(context: SigninContext) {
  return async function loadInteractionMiddleware(req: Request, res: Response, next: NextFunction) {
    const uid = String(req.params.uid ?? '')
    if (!uidShape.test(uid)) return res.status(404).render('errors/not-found.njk')
    let interaction: Interaction
    try {
      interaction = await context.provider.interactionDetails(req, res)
      if (interaction.uid !== uid) throw new Error('interaction mismatch')
    } catch (error) {
      // A store that cannot be reached has lost nothing: a 503, and trying again carries on.
      if (isOutage(error)) throw error
      return renderExpired(context, req, res, uid)
    }
    const clientId = String(interaction.params.client_id)
    const journey = req.session.get<Journey>(`journey:${uid}`) ?? { clientId }
    let serviceRead = false
    if (!journey.service) {
      const row = await findClient(context.db, clientId)
      if (!row) return renderExpired(context, req, res, uid)
      journey.service = { name: row.name, startUrl: serviceStartUrl(row.metadata as ClientMetadataRow) }
      serviceRead = true
    }
    const clients = req.session.get<Record<string, string>>(clientsKey) ?? {}
    if (clients[uid] !== clientId) {
      // Remember the last few, so an expired request can still lead back to its service.
      const recent = Object.entries({ ...clients, [uid]: clientId }).slice(-10)
      req.session.set(clientsKey, Object.fromEntries(recent))
      // The session idles out when the request expires (both after 3 hours), taking the
      // map above with it, so the store remembers the service for longer.
      await context.store.set(expiredClientKey(uid), clientId, lifetimes.sessionSeconds)
    }
    const loginHint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint.slice(0, 254) : undefined
    req.signin = {
      uid,
      interaction,
      journey,
      client: { clientId, ...journey.service },
      loginHint
    }
    res.locals.uid = uid
    res.locals.base = `/interaction/${uid}`
    res.locals.clientName = journey.service.name
    res.locals.serviceStartUrl = journey.service.startUrl
    const banner = journey.banner
    if (banner) {
      res.locals.banner = banner
      delete journey.banner
    }
    if (serviceRead || banner) saveJourney(req)
    next()
  }
}

async function renderExpired(context: SigninContext, req: Request, res: Response, uid: string) {
  const clientId = req.session.get<Record<string, string>>(clientsKey)?.[uid] ?? await context.store.get<string>(expiredClientKey(uid))
  const row = clientId ? await findClient(context.db, clientId) : undefined
  res.status(400).render('journeys/expired.njk', {
    clientName: row?.name,
    serviceStartUrl: row ? serviceStartUrl(row.metadata as ClientMetadataRow) : undefined
  })
}

/** Steps a person can only reach in order; anyone else goes back to the journey's start. */
export function requireStep(reached: (journey: Journey) => boolean, otherwise: string) {
  return function requireStepMiddleware(req: Request, res: Response, next: NextFunction) {
    if (reached(req.signin.journey)) return next()
    res.redirect(303, `/interaction/${req.signin.uid}${otherwise}`)
  }
}

/**
 * Ends the detour: the person is signed in and goes back to the service that asked, with
 * the `acr` and `amr` of what they proved (a password and a second factor, ADR 10).
 */
export async function finishSignIn(context: SigninContext, req: Request, res: Response, accountId: string, proven: ProvenMethod[]): Promise<void> {
  const { uid } = req.signin
  const result = authenticationResult(proven)
  if (!result) throw new Error('a sign-in must prove a password and a second factor')
  req.session.unset(`journey:${uid}`)
  // New session id at sign-in (no fixation); keep only what leads back to services.
  req.session.regenerate({ [clientsKey]: req.session.get(clientsKey) })
  // What oidc-provider's interactionFinished does, on the interaction this request loaded
  // already: it would read it again (its cookie's signature, a store round trip) to save it.
  const { interaction } = req.signin
  interaction.result = { login: { accountId, acr: result.acr, amr: result.amr } }
  await interaction.save(interaction.exp - Math.floor(Date.now() / 1000))
  res.status(303).set({ 'Location': interaction.returnTo, 'Content-Length': '0' }).end()
}
