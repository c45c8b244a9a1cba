import { sql, type Kysely } from 'kysely'
import type { SigninDatabase } from '../database/schema.ts'

const ukTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London', day: 'numeric', month: 'long', year: 'numeric', hour: 'numeric', minute: '2-digit', hour12: true
})

/** "3 March 2026 at 2:05pm", in UK time (GMT or BST), as GOV.UK writes dates and times. */
export function inUkTime(at: Date): string {
  const parts = Object.fromEntries(ukTime.formatToParts(at).map((part) => [part.type, part.value]))
  return `${parts.day} ${parts.month} ${parts.year} at ${parts.hour}:${parts.minute}${String(parts.dayPeriod ?? '').toLowerCase().replace(/\s/g, '')}`
}

const factorNames: Record<string, string> = {
  'email-code': 'Code sent by email',
  'authenticator-app': 'Authenticator app',
  'passkey': 'Passkey',
  'recovery-code': 'Recovery code'
}

export interface Activity { when: string, factor: string, service: string }

/** The account's last 10 completed sign-ins (a password and a second factor, or a passkey alone; at a service or in Your account), newest first, from the audit trail. */
export async function recentActivity(db: Kysely<SigninDatabase>, accountId: string, limit = 10): Promise<Activity[]> {
  const rows = await db.selectFrom('audit_events')
    .leftJoin('clients', 'clients.client_id', 'audit_events.client_id')
    .select(['audit_events.at', 'audit_events.details', 'clients.name'])
    .where('audit_events.account_id', '=', accountId)
    // The second factor after a password, or a passkey alone (ADR 12), which is a whole sign-in.
    .where((eb) => eb.or([
      eb('audit_events.event', '=', 'second-factor'),
      eb.and([eb('audit_events.event', '=', 'sign-in'), eb(sql<string>`audit_events.details->>'factor'`, '=', 'passkey')])
    ]))
    .where('audit_events.outcome', '=', 'success')
    .orderBy('audit_events.at', 'desc').orderBy('audit_events.id', 'desc')
    .limit(limit).execute()
  return rows.map((row) => ({
    when: inUkTime(new Date(row.at)),
    factor: factorNames[String(row.details.factor)] ?? 'Unknown',
    // Signing in again before a change in Your account is a sign-in too, to no service.
    service: row.details.purpose === 're-authenticate' ? 'Your account (signed in again to make a change)' : row.name ?? 'A service no longer registered'
  }))
}

export interface FactorSummary { hasApp: boolean, recoveryCodesLeft: number }

export async function secondFactorSummary(db: Kysely<SigninDatabase>, accountId: string): Promise<FactorSummary> {
  const app = await db.selectFrom('account_factors').select('id')
    .where('account_id', '=', accountId).where('kind', '=', 'authenticator-app').where('confirmed_at', 'is not', null)
    .limit(1).executeTakeFirst()
  const left = await db.selectFrom('recovery_codes').select(({ fn }) => fn.countAll<string>().as('n'))
    .where('account_id', '=', accountId).where('used_at', 'is', null).executeTakeFirstOrThrow()
  return { hasApp: app !== undefined, recoveryCodesLeft: Number(left.n) }
}
