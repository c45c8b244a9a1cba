/**
 * Telling "a backing service (PostgreSQL, Redis) cannot be reached right now" from a
 * bug. An outage is answered with 503 and the GOV.UK "service unavailable" page, and
 * whatever the person was doing is kept so that trying again finishes it; any other
 * error stays a 500.
 */

/** Socket-level failures: the server is not there, or went away mid-conversation. */
const networkErrorCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENOTFOUND', 'EAI_AGAIN', 'ENOTCONN'
])

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception); 57P01–57P03 (the server is
 * shutting down, crashed, or still starting up); 53300 (too many connections).
 */
const postgresOutageCode = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/

/** Failures that arrive without a code: node-postgres's pool and client, and ioredis. */
const outageMessages = [
  'timeout exceeded when trying to connect', // pg pool: no connection within connectionTimeoutMillis
  'Connection terminated', // pg: the server closed the connection (restart, failover)
  'Client has encountered a connection error and is not queryable',
  'Query read timeout',
  "Stream isn't writeable", // ioredis: not connected, and commands are not queued
  'Command timed out', // ioredis: commandTimeout
  'Connection is closed.', // ioredis: the connection ended with the command unanswered
  'Reached the max retries per request limit' // ioredis: MaxRetriesPerRequestError
]

export function isOutage(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false
  const { code, message, cause, errors } = error as { code?: unknown, message?: unknown, cause?: unknown, errors?: unknown }
  if (typeof code === 'string' && (networkErrorCodes.has(code) || postgresOutageCode.test(code))) return true
  if (typeof message === 'string' && outageMessages.some((text) => message.startsWith(text))) return true
  if (error instanceof ServiceUnavailableError) return true
  // fetch wraps socket errors in `cause`; Node reports a failed dual-stack connect as an AggregateError.
  if (cause && isOutage(cause, depth + 1)) return true
  return Array.isArray(errors) && errors.some((inner) => isOutage(inner, depth + 1))
}

/** Thrown where we find out for ourselves that a backing service is unreachable. */
export class ServiceUnavailableError extends Error {
  readonly status = 503
}

/** Retry-After on a 503: during an outage, and while a node is still starting. */
export const retryAfterSeconds = { outage: 30, starting: 5 }
