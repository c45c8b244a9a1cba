import path from 'node:path'
import express, { type Express, type Response } from 'express'
import nunjucks from 'nunjucks'
import { projectRoot } from './config.ts'

const govukFrontend = path.join(projectRoot, 'node_modules/govuk-frontend/dist')

/**
 * Nunjucks with GOV.UK Frontend's macros and template, served straight from its dist
 * folder (no Sass build). Each service looks first in its own folder, so a journey's
 * views sit beside its routes and tests.
 */
export function useViews(app: Express, serviceDirectory: string, globals: Record<string, unknown>): nunjucks.Environment {
  const reload = process.env.TEMPLATE_RELOAD === 'true'
  const env = nunjucks.configure([serviceDirectory, path.join(serviceDirectory, 'views'), path.join(import.meta.dirname, 'views'), govukFrontend], {
    autoescape: true,
    express: app,
    // Recompiling every template on every request cost 80% of a page's time (28 vs 162
    // requests a second measured on one core); reload only when asked.
    noCache: reload
  })
  env.addFilter('trim', trim)
  env.addExtension('RenderOnce', new RenderOnce(!reload))
  for (const loader of (env as unknown as { loaders: nunjucks.ILoaderAny[] }).loaders) memoiseResolve(loader)
  keepImportedMacros()
  for (const [name, value] of Object.entries(globals)) env.addGlobal(name, value)
  app.set('view engine', 'njk')
  return env
}

/**
 * `{% renderonce %}…{% endrenderonce %}`: what is between is rendered at its first use and
 * the same HTML is given back ever after. For the page chrome that is the same on every page
 * of a service (GOV.UK's header, phase banner, footer, skip link). With the header's blocks
 * rendered once (layout.njk), an organisation page's render fell from 590–720 to 230–270 µs
 * of CPU (measured on one core, rendering it 3,000 times). Only what depends on the service's
 * globals alone may go inside — never a request's values (a name, a nonce, a CSRF token).
 * Each call site is its own entry, numbered when its template is compiled. With templates
 * reloaded (TEMPLATE_RELOAD), nothing is kept: each edit shows, and recompiled sites never pile up.
 */
export class RenderOnce implements nunjucks.Extension {
  readonly tags = ['renderonce']
  readonly #rendered = new Map<number, nunjucks.runtime.SafeString>()
  readonly #keep: boolean
  #sites = 0
  constructor(keep: boolean) {
    this.#keep = keep
  }

  parse(parser: NunjucksParser, nodes: NunjucksNodes): unknown {
    const start = parser.nextToken()
    parser.advanceAfterBlockEnd(start.value)
    const body = parser.parseUntilBlocks('endrenderonce')
    parser.advanceAfterBlockEnd()
    const site = new nodes.NodeList(start.lineno, start.colno)
    site.addChild(new nodes.Literal(start.lineno, start.colno, ++this.#sites))
    return new nodes.CallExtension(this, 'render', site, [body])
  }

  render(_context: unknown, site: number, body: () => string): nunjucks.runtime.SafeString {
    let html = this.#rendered.get(site)
    if (html === undefined) {
      html = new nunjucks.runtime.SafeString(body())
      if (this.#keep) this.#rendered.set(site, html)
    }
    return html
  }
}

/** What RenderOnce's parse uses of Nunjucks' parser and node classes (untyped in @types/nunjucks). */
interface NunjucksParser {
  nextToken(): { value: string, lineno: number, colno: number }
  advanceAfterBlockEnd(name?: string): void
  parseUntilBlocks(...names: string[]): unknown
}
interface NunjucksNodes {
  NodeList: new (lineno: number, colno: number) => { addChild(node: unknown): void }
  Literal: new (lineno: number, colno: number, value: unknown) => unknown
  CallExtension: new (extension: unknown, method: string, args: unknown, contentArgs: unknown[]) => unknown
}

/**
 * `{% from "…/macro.njk" import govukButton %}` runs the imported template afresh on every
 * render to collect its macros: the layout imports twenty, and every GOV.UK component imports
 * more, so a page ran dozens of templates (each with its frame, context and variables) only
 * to define the same macros again. Imported without the caller's context (the only way these
 * templates import), what a template exports cannot depend on the page: its macros are made
 * once per compiled template and kept with it. A template imported `with context` is run
 * every time, as before.
 */
export function keepImportedMacros(): void {
  const prototype = nunjucks.Template.prototype as unknown as { getExported: GetExported, [keptMacros]?: true }
  if (prototype[keptMacros]) return
  prototype[keptMacros] = true
  const getExported = prototype.getExported
  const kept = new WeakMap<object, Record<string, unknown>>()
  prototype.getExported = function (this: object, ...args: unknown[]) {
    const callback = args[0]
    if (args.length !== 1 || typeof callback !== 'function') return getExported.apply(this, args)
    const exported = kept.get(this)
    if (exported) return callback(null, exported)
    return getExported.call(this, (error: unknown, made: Record<string, unknown>) => {
      if (!error) kept.set(this, made)
      callback(error, made)
    })
  }
}
const keptMacros = Symbol('keptMacros')
type GetExported = (...args: unknown[]) => unknown

/**
 * GOV.UK Frontend's macros include their templates by relative path ("./template.njk"),
 * and Nunjucks resolves that path (path.resolve) on every macro call, even with the
 * template cached: 3–4 % of a signed-in page's CPU. The answer for a pair of names never
 * changes, and there are only as many pairs as templates that include others.
 */
function memoiseResolve(loader: nunjucks.ILoaderAny): void {
  const withResolve = loader as nunjucks.ILoaderAny & { resolve?: (from: string, to: string) => string }
  const resolve = withResolve.resolve?.bind(loader)
  if (!resolve) return
  const resolved = new Map<string, string>()
  withResolve.resolve = (from, to) => {
    const key = from + '\0' + to
    let path = resolved.get(key)
    if (path === undefined) resolved.set(key, path = resolve(from, to))
    return path
  }
}

/**
 * Nunjucks' own `trim` is a regular expression, /^\s*|\s*$/g, which retries `\s*$` from
 * every space of every run of spaces: GOV.UK Frontend's macros trim each component's
 * whole output, nested, so on a signed-in page it took a tenth of the CPU
 * (docs/performance.md). String.prototype.trim removes the same characters (`\s` is
 * WhiteSpace and LineTerminator, as trim's are) in one pass. A safe string stays safe.
 */
export function trim(value: unknown): unknown {
  if (value === undefined || value === null) return ''
  const trimmed = String(value).trim()
  return value instanceof nunjucks.runtime.SafeString ? new nunjucks.runtime.SafeString(trimmed) : trimmed
}

/**
 * GOV.UK Frontend's assets, then the service's own, then the platform's. Mounted after
 * the security headers, so every response carries them, assets included.
 */
export function serveAssets(app: Express, serviceDirectory: string): void {
  const assetOptions = { maxAge: '1d', index: false, fallthrough: true }
  app.use('/assets', express.static(path.join(govukFrontend, 'govuk/assets'), assetOptions))
  app.use('/assets', express.static(path.join(serviceDirectory, 'assets'), assetOptions))
  app.use('/assets', express.static(path.join(import.meta.dirname, 'assets'), assetOptions))
  app.get('/assets/govuk-frontend.min.css', (_req, res) => res.sendFile(path.join(govukFrontend, 'govuk/govuk-frontend.min.css'), { maxAge: '1d' }))
  app.get('/assets/govuk-frontend.min.js', (_req, res) => res.sendFile(path.join(govukFrontend, 'govuk/govuk-frontend.min.js'), { maxAge: '1d' }))
}

/** Validation errors in the order the fields appear on the page. */
export type FieldErrors = Record<string, string>

/**
 * The one way a form with errors is shown (GOV.UK pattern): status 400, an error
 * summary linking to each field, the message by the field, "Error: " before the title.
 */
export function renderFormErrors(res: Response, view: string, errors: FieldErrors, context: Record<string, unknown> = {}, status = 400): void {
  const errorList = Object.entries(errors).map(([field, text]) => ({ text, href: `#${field}` }))
  // 429: a limit was reached (locked out, too many codes); the layout then says how to get help.
  res.status(status).render(view, { ...context, errors, errorList, limited: status === 429 })
}
