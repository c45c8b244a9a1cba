import type { Kysely } from 'kysely'
import type * as oidc from 'openid-client'
import { insertAccount, type Account } from '../../src/signin/accounts/accounts.ts'
import { hashPassword } from '../../src/signin/accounts/passwords.ts'
import type { SigninDatabase } from '../../src/signin/database/schema.ts'
import type { HttpResponse, HttpSession } from './http-client.ts'
import { beginFlow, openSignIn, type Flow } from './oidc-flow.ts'

/**
 * Reading Sign-in's pages in HTTP tests (titles, GOV.UK error summaries, visible text)
 * and starting journeys, so each test says what it checks rather than how to parse HTML.
 */
export function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, decimal: string) => String.fromCodePoint(Number(decimal)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
}

/** The text a person reads: no tags, scripts or styles, entities decoded, spaces collapsed. */
export function visibleText(html: string): string {
  return decodeEntities(html
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ').trim()
}

export function pageTitle(html: string): string {
  return visibleText(html.match(/<title\b[^>]*>([\s\S]*?)<\/title>/)?.[1] ?? '')
}

/** The links of the GOV.UK error summary, in order; empty when the page has none. */
export function errorSummary(html: string): Array<{ href: string, text: string }> {
  const list = html.match(/class="govuk-list govuk-error-summary__list">([\s\S]*?)<\/ul>/)?.[1]
  if (!list) return []
  return [...list.matchAll(/<a href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/g)]
    .map(([, href = '', text = '']) => ({ href: decodeEntities(href), text: visibleText(text) }))
}

/** The GOV.UK error message shown by one field (without its hidden "Error:" prefix). */
export function fieldError(html: string, id: string): string | undefined {
  const message = html.match(new RegExp(`<p id="${id}-error" class="govuk-error-message">([\\s\\S]*?)</p>`))?.[1]
  return message === undefined ? undefined : visibleText(message).replace(/^Error:\s*/, '')
}

/** The value an input is pre-filled with. */
export function inputValue(html: string, name: string): string | undefined {
  const input = html.match(new RegExp(`<input\\b[^>]*\\bname="${name}"[^>]*>`))?.[0]
  const value = input?.match(/\bvalue="([^"]*)"/)?.[1]
  return value === undefined ? undefined : decodeEntities(value)
}

/** The main content with the per-request parts (ids, tokens, nonces, addresses) blanked, for "same page" comparisons. */
export function comparablePage(html: string, replace: string[] = []): string {
  let text = (html.match(/<main\b[\s\S]*<\/main>/)?.[0] ?? html)
    .replace(/\/interaction\/[A-Za-z0-9_-]+/g, '/interaction/UID')
    .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value="TOKEN"')
  for (const value of replace) text = text.split(value).join('ADDRESS')
  return text
}

export async function addAccount(db: Kysely<SigninDatabase>, account: { email: string, password: string, givenName?: string, familyName?: string }, now = new Date()): Promise<Account> {
  const created = await insertAccount(db, {
    email: account.email,
    givenName: account.givenName ?? 'Test',
    familyName: account.familyName ?? 'Person',
    passwordHash: await hashPassword(account.password)
  }, now)
  if (!created) throw new Error(`${account.email} already has an account`)
  return created
}

export interface StartedJourney {
  flow: Flow
  /** The sign-in page the authorization request landed on. */
  page: HttpResponse
  /** `http://host/interaction/<uid>`: the journey's pages hang off it. */
  base: string
}

/** A service sends the person to Sign-in: returns the sign-in page they land on. */
export async function startJourney(http: HttpSession, config: oidc.Configuration, redirectUri: string, extra: Record<string, string> = {}): Promise<StartedJourney> {
  const flow = await beginFlow(config, redirectUri, extra)
  const page = await openSignIn(http, flow)
  if (page.status !== 200 || !/\/interaction\/[A-Za-z0-9_-]+$/.test(new URL(page.url).pathname)) {
    throw new Error(`Expected the sign-in page, got ${page.status} at ${page.url}`)
  }
  return { flow, page, base: page.url }
}
