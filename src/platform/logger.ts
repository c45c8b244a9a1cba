import { pino, type DestinationStream, type Logger } from 'pino'

/**
 * Secrets never reach the logs (docs/security.md, "secrets and logs"): anything that
 * could carry a password, code, token or session id is censored by path.
 */
export const redactedPaths = [
  'password', 'confirmPassword', 'code', 'token', 'secret', 'cookie',
  '*.password', '*.confirmPassword', '*.code', '*.token', '*.secret', '*.client_secret',
  '*.id_token_hint', '*.cookie', '*.authorization',
  'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]',
  'body.password', 'body.code', 'body._csrf'
]

/** `destination`: standard output unless given (tests read what the real logger writes). */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info'), destination?: DestinationStream): Logger {
  const options = { name, level, redact: { paths: redactedPaths, censor: '[redacted]' } }
  return destination ? pino(options, destination) : pino(options)
}

export type { Logger }
