import http from 'node:http'

/**
 * A small cookie-keeping HTTP client for tests that drive the services over real HTTP
 * without a browser. Redirects are never followed silently, so a test can assert on each
 * hop (or call follow() when it only cares where a chain ends).
 */
export type HttpResponse = { status: number, headers: Headers, url: string, text: string }

export type Cookie = {
  name: string
  value: string
  domain: string
  /** No Domain attribute: sent to exactly this host, not its subdomains. */
  hostOnly: boolean
  path: string
  /** Milliseconds since the epoch; undefined for a session cookie. */
  expires?: number
  secure: boolean
  httpOnly: boolean
  sameSite?: string
}

const maxHops = 10

export interface HttpSessionOptions {
  /**
   * The local address to connect from, such as 127.8.1.9: the server sees this as the
   * client's IP address, so a test can have limits kept per IP address to itself
   * (any 127.x.y.z reaches a server listening on 127.0.0.1).
   */
  from?: string
}

export class HttpSession {
  #jar: Cookie[] = []
  readonly from: string | undefined

  constructor(options: HttpSessionOptions = {}) {
    this.from = options.from
  }

  get(url: string | URL, headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.request('GET', url, undefined, headers)
  }

  /** Fields whose value is undefined are left out, as a form without that input would. */
  post(url: string | URL, form: Record<string, string | undefined>, headers: Record<string, string> = {}): Promise<HttpResponse> {
    const body = new URLSearchParams()
    for (const [name, value] of Object.entries(form)) if (value !== undefined) body.append(name, value)
    return this.request('POST', url, body, headers)
  }

  /** Follows Location headers (always with GET, as browsers do after 301/302/303) until a non-redirect. */
  async follow(response: HttpResponse): Promise<HttpResponse> {
    let current = response
    for (let hop = 0; isRedirect(current.status); hop++) {
      if (hop >= maxHops) throw new Error(`More than ${maxHops} redirects, last to ${current.url}`)
      const location = current.headers.get('location')
      if (!location) throw new Error(`Redirect ${current.status} from ${current.url} without a Location`)
      current = await this.get(new URL(location, current.url))
    }
    return current
  }

  /** The cookies held (not expired); with a URL, only those that would be sent to it. */
  cookies(url?: string | URL): Cookie[] {
    this.#removeExpired()
    if (url === undefined) return this.#jar.map((cookie) => ({ ...cookie }))
    const target = new URL(url)
    return this.#jar
      .filter((cookie) => domainMatches(cookie, target.hostname) && pathMatches(cookie.path, target.pathname))
      .sort((a, b) => b.path.length - a.path.length)
      .map((cookie) => ({ ...cookie }))
  }

  cookie(name: string, url?: string | URL): string | undefined {
    return this.cookies(url).find((cookie) => cookie.name === name)?.value
  }

  clearCookies(): void {
    this.#jar = []
  }

  async request(method: string, url: string | URL, body?: URLSearchParams, headers: Record<string, string> = {}): Promise<HttpResponse> {
    const target = new URL(url)
    const cookieHeader = this.cookies(target).map((cookie) => `${cookie.name}=${cookie.value}`).join('; ')
    const allHeaders = { ...(cookieHeader ? { cookie: cookieHeader } : {}), ...headers }
    const response = this.from
      ? await requestFrom(this.from, method, target, body, allHeaders)
      : await fetch(target, { method, body, redirect: 'manual', headers: allHeaders })
    for (const header of response.headers.getSetCookie()) this.#store(header, target)
    return { status: response.status, headers: response.headers, url: target.href, text: await response.text() }
  }

  #store(header: string, from: URL): void {
    const cookie = parseSetCookie(header, from)
    if (!cookie) return
    this.#jar = this.#jar.filter((held) =>
      !(held.name === cookie.name && held.domain === cookie.domain && held.path === cookie.path))
    // An expiry in the past is how servers delete a cookie.
    if (cookie.expires === undefined || cookie.expires > Date.now()) this.#jar.push(cookie)
  }

  #removeExpired(): void {
    const now = Date.now()
    this.#jar = this.#jar.filter((cookie) => cookie.expires === undefined || cookie.expires > now)
  }
}

/** One request over node:http from a given local address (fetch cannot choose one). */
function requestFrom(localAddress: string, method: string, target: URL, body: URLSearchParams | undefined, headers: Record<string, string>): Promise<{ status: number, headers: Headers, text(): Promise<string> }> {
  if (target.protocol !== 'http:') throw new Error(`HttpSession({ from }) speaks http only, not ${target.href}`)
  const payload = body === undefined ? undefined : Buffer.from(body.toString())
  return new Promise((resolve, reject) => {
    const request = http.request(target, {
      method, localAddress, family: 4,
      headers: { ...(payload ? { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', 'content-length': String(payload.length) } : {}), ...headers }
    }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('error', reject)
      response.on('end', () => {
        const received = new Headers()
        for (let i = 0; i < response.rawHeaders.length; i += 2) received.append(response.rawHeaders[i]!, response.rawHeaders[i + 1]!)
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: response.statusCode ?? 0, headers: received, text: async () => text })
      })
    })
    request.on('error', reject)
    request.end(payload)
  })
}

let lastLoopback = 0
/** A loopback address (127.x.y.z) no other call in this process has returned: an IP address of a test's own. */
export function ownLoopbackAddress(): string {
  const n = lastLoopback++
  // Never 127.0.x.x, where the tests' ordinary requests (127.0.0.1) come from.
  return `127.${1 + Math.floor(n / (254 * 256)) % 254}.${Math.floor(n / 254) % 256}.${1 + n % 254}`
}

/** The CSRF token of the first form on a page. */
export function csrfFrom(html: string): string {
  const input = html.match(/<input\b[^>]*\bname="_csrf"[^>]*>/)?.[0]
  const value = input?.match(/\bvalue="([^"]*)"/)?.[1]
  if (value === undefined) throw new Error('No _csrf input on the page')
  return decodeEntities(value)
}

/** The action of the first form on a page (entities decoded; may be relative). */
export function formAction(html: string): string {
  const form = html.match(/<form\b[^>]*>/)?.[0]
  const action = form?.match(/\baction="([^"]*)"/)?.[1]
  if (action === undefined) throw new Error('No <form> with an action on the page')
  return decodeEntities(action)
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400 && status !== 304
}

// RFC 6265 section 5.2, except that Secure is recorded but not enforced: tests run on http://localhost.
function parseSetCookie(header: string, from: URL): Cookie | undefined {
  const [pair = '', ...attributes] = header.split(';')
  const equals = pair.indexOf('=')
  if (equals < 1) return undefined
  const cookie: Cookie = {
    name: pair.slice(0, equals).trim(),
    value: pair.slice(equals + 1).trim(),
    domain: from.hostname,
    hostOnly: true,
    path: defaultPath(from.pathname),
    secure: false,
    httpOnly: false
  }
  let maxAge: number | undefined
  for (const attribute of attributes) {
    const index = attribute.indexOf('=')
    const key = (index < 0 ? attribute : attribute.slice(0, index)).trim().toLowerCase()
    const value = index < 0 ? '' : attribute.slice(index + 1).trim()
    if (key === 'max-age' && /^-?\d+$/.test(value)) maxAge = Number(value)
    else if (key === 'expires' && !Number.isNaN(Date.parse(value))) cookie.expires = Date.parse(value)
    else if (key === 'path' && value.startsWith('/')) cookie.path = value
    else if (key === 'domain' && value) {
      const domain = value.replace(/^\./, '').toLowerCase()
      // A server may not set cookies for a host other than itself or a parent domain.
      if (!domainMatches({ domain, hostOnly: false }, from.hostname)) return undefined
      cookie.domain = domain
      cookie.hostOnly = false
    } else if (key === 'secure') cookie.secure = true
    else if (key === 'httponly') cookie.httpOnly = true
    else if (key === 'samesite') cookie.sameSite = value
  }
  // Max-Age wins over Expires; zero or less means "delete now".
  if (maxAge !== undefined) cookie.expires = maxAge <= 0 ? 0 : Date.now() + maxAge * 1000
  return cookie
}

function defaultPath(pathname: string): string {
  const slash = pathname.lastIndexOf('/')
  return slash <= 0 ? '/' : pathname.slice(0, slash)
}

function domainMatches(cookie: Pick<Cookie, 'domain' | 'hostOnly'>, host: string): boolean {
  if (cookie.domain === host) return true
  return !cookie.hostOnly && host.endsWith(`.${cookie.domain}`)
}

function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (cookiePath === requestPath) return true
  if (!requestPath.startsWith(cookiePath)) return false
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, decimal: string) => String.fromCodePoint(Number(decimal)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
}
