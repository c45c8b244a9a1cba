import { Router } from 'express'
import { noStore } from './security.ts'
import type { ServiceInfo } from './service-info.ts'

/**
 * The pages every GOV.UK service must have (issue 8), the same on both services: help,
 * cookies, accessibility statement, privacy notice and terms of use, linked from every
 * page's footer. The cookies page lists what the service's own code sets (`CookieUse`),
 * built by each service from the settings it gives its cookies, so it cannot drift.
 */
export interface CookieUse {
  name: string
  purpose: string
  /** In words: "When you close your browser", "12 hours". */
  expires: string
}

export const servicePagePaths = {
  help: '/help',
  cookies: '/cookies',
  accessibility: '/accessibility-statement',
  privacy: '/privacy-notice',
  terms: '/terms-of-use',
  feedback: '/feedback'
} as const

/** The footer's links (layout.njk), in GOV.UK's usual order. */
export const footerLinks = [
  { text: 'Help', href: servicePagePaths.help },
  { text: 'Cookies', href: servicePagePaths.cookies },
  { text: 'Accessibility statement', href: servicePagePaths.accessibility },
  { text: 'Privacy notice', href: servicePagePaths.privacy },
  { text: 'Terms of use', href: servicePagePaths.terms }
]

/** What every template may print: the support address and the footer (useViews globals). */
export function serviceGlobals(info: ServiceInfo): Record<string, unknown> {
  return { support: info.support, organisation: info.organisation, footerLinks }
}

/** "12 hours", "3 hours", "20 minutes", "1 day". */
export function inWords(seconds: number): string {
  const units: Array<[number, string]> = [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']]
  for (const [size, unit] of units) {
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size
      return `${count} ${unit}${count === 1 ? '' : 's'}`
    }
  }
  return `${seconds} seconds`
}

export const whenBrowserCloses = 'When you close your browser'

export function servicePageRoutes(options: { cookies: CookieUse[], description: string }): Router {
  const router = Router()
  const page = (path: string, view: string, context: Record<string, unknown> = {}) =>
    router.get(path, noStore, (_req, res) => res.render(`service-pages/${view}.njk`, context))
  page(servicePagePaths.help, 'help')
  page(servicePagePaths.cookies, 'cookies', { cookies: options.cookies })
  page(servicePagePaths.accessibility, 'accessibility-statement')
  page(servicePagePaths.privacy, 'privacy-notice', { description: options.description })
  page(servicePagePaths.terms, 'terms-of-use')
  return router
}
