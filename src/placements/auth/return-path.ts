/**
 * Where a person goes back to after signing in, or after "Stay signed in" without
 * JavaScript: a path on this service and nothing else (docs/security.md, "open redirects").
 *
 * The value is parsed by the WHATWG URL parser, as browsers parse a Location header, and
 * what comes out is checked, not what went in: removing `.` and `..` segments, decoding
 * `%2e` or folding backslashes can turn an innocent-looking path into `//evil.example`,
 * which a browser reads as another site.
 */
const ownOrigin = 'https://placements.invalid'

export function safeReturnPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 500) return undefined
  // Only a path may come in: no scheme, no host, no backslashes or control characters
  // (which URL parsers strip or fold in ways that differ between them).
  // eslint-disable-next-line no-control-regex
  if (!value.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(value)) return undefined
  let url: URL
  try {
    url = new URL(value, ownOrigin)
  } catch {
    return undefined
  }
  if (url.origin !== ownOrigin) return undefined
  const path = url.pathname + url.search
  // The result must itself be a plain path: "/" then anything but a second "/" or "\".
  return /^\/(?![/\\])/.test(path) ? path : undefined
}
