import type { TestServices } from './placements.ts'

/**
 * Reading the support console's pages in tests: table rows and summary lists as plain
 * text, so assertions say what a person sees rather than how it is marked up.
 */

/** The text of each body row of the first table, tags and the small-screen column labels stripped (<wbr> joins). */
export function tableRows(html: string): string[] {
  const body = html.match(/<tbody[^>]*>([\s\S]*?)<\/tbody>/)?.[1] ?? ''
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((row) => row[1]!
    .replace(/<span class="app-table__label"[^>]*>[^<]*<\/span>|<wbr>/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim())
}

/** The summary list's rows: "key: value", tags stripped. */
export function summaryRows(html: string): string[] {
  return [...html.matchAll(/<dt class="govuk-summary-list__key">([\s\S]*?)<\/dt>\s*<dd class="govuk-summary-list__value">([\s\S]*?)<\/dd>/g)]
    .map((row) => `${strip(row[1]!)}: ${strip(row[2]!)}`)
}

export function strip(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()
}

/** The few entities the templates write, decoded. */
export function decode(text: string): string {
  return text.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&')
}

/** A seeded demo organisation's id, found by its name (read only: tests never change the demo data). */
export async function demoOrganisationId(services: TestServices, name: string): Promise<string> {
  const row = await services.placements.context.db.selectFrom('organisations').select('id').where('name', '=', name).executeTakeFirstOrThrow()
  return row.id
}

export async function countOrganisations(services: TestServices): Promise<number> {
  const row = await services.placements.context.db.selectFrom('organisations').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}
