/**
 * Page numbers from the query string, and the parameters of GOV.UK's pagination
 * component. A page that cannot exist is "not found", never an error.
 */
export interface Paging {
  page: number
  pageSize: number
  offset: number
}

const pageShape = /^[1-9][0-9]{0,5}$/

/** The page asked for; undefined when the value is not a page number at all. */
export function requestedPage(value: unknown, pageSize: number): Paging | undefined {
  if (value === undefined || value === '') return { page: 1, pageSize, offset: 0 }
  if (typeof value !== 'string' || !pageShape.test(value)) return undefined
  const page = Number(value)
  return { page, pageSize, offset: (page - 1) * pageSize }
}

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(total / pageSize))
}

type PaginationItem = { number: number, href: string, current?: boolean } | { ellipsis: true }

export interface PaginationParams {
  previous?: { href: string }
  next?: { href: string }
  items: PaginationItem[]
}

/**
 * Previous and next links, the first and last pages, and the pages either side of the
 * current one, with ellipses between. `href` builds a page's address (keeping a search).
 */
export function pagination(page: number, pages: number, href: (page: number) => string): PaginationParams | undefined {
  if (pages <= 1) return undefined
  const shown = [...new Set([1, page - 1, page, page + 1, pages])].filter((n) => n >= 1 && n <= pages).sort((a, b) => a - b)
  const items: PaginationItem[] = []
  let last = 0
  for (const number of shown) {
    if (number - last > 1) items.push({ ellipsis: true })
    items.push(number === page ? { number, href: href(number), current: true } : { number, href: href(number) })
    last = number
  }
  return {
    ...(page > 1 ? { previous: { href: href(page - 1) } } : {}),
    ...(page < pages ? { next: { href: href(page + 1) } } : {}),
    items
  }
}

/** "Showing 21 to 28 of 28 results": where this page sits in the whole list ("of about …" when the total is an estimate). */
export function showing(paging: Paging, count: number, total: number, exact = true): string {
  if (total === 0) return 'No results'
  if (!exact) return `Showing ${paging.offset + 1} to ${paging.offset + count} of about ${total.toLocaleString('en-GB')} results`
  return `Showing ${paging.offset + 1} to ${paging.offset + count} of ${total} ${total === 1 ? 'result' : 'results'}`
}
