import path from 'node:path'

/** Values read from the environment, once, at start-up. Secrets come only from here. */
export interface CommonConfig {
  environment: 'development' | 'production' | 'test'
  /** Where PGlite keeps its files when no DATABASE_URL is set. */
  dataDirectory: string
  redisUrl: string | undefined
  /** On SIGTERM/SIGINT, how long requests in flight may take to finish before they are cut. */
  shutdownGraceSeconds: number
  /** A Redis command unanswered after this long fails (503) rather than hold the request. */
  redisCommandTimeoutMs: number
  /** A PostgreSQL connection not made within this long fails (503) rather than hold the request. */
  databaseConnectTimeoutMs: number
}

export const projectRoot = path.resolve(import.meta.dirname, '../..')

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): CommonConfig['environment'] {
  const value = env.NODE_ENV ?? 'development'
  if (value !== 'development' && value !== 'production' && value !== 'test') {
    throw new Error(`NODE_ENV must be development, production or test, not "${value}"`)
  }
  return value
}

export function readCommonConfig(env: NodeJS.ProcessEnv = process.env): CommonConfig {
  return {
    environment: readEnvironment(env),
    dataDirectory: env.DATA_DIR ?? path.join(projectRoot, 'data'),
    redisUrl: env.REDIS_URL || undefined,
    shutdownGraceSeconds: integer(env.SHUTDOWN_GRACE_SECONDS, 10, 'SHUTDOWN_GRACE_SECONDS'),
    redisCommandTimeoutMs: integer(env.REDIS_COMMAND_TIMEOUT_MS, 2000, 'REDIS_COMMAND_TIMEOUT_MS'),
    databaseConnectTimeoutMs: integer(env.DATABASE_CONNECT_TIMEOUT_MS, 5000, 'DATABASE_CONNECT_TIMEOUT_MS')
  }
}

export function requiredInProduction(env: NodeJS.ProcessEnv, name: string, developmentDefault: string): string {
  const value = env[name]
  if (value) return value
  if (readEnvironment(env) === 'production') throw new Error(`${name} must be set in production`)
  return developmentDefault
}

export function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`${name} must be a whole number, not "${value}"`)
  return parsed
}

/** Where a service serves its Prometheus metrics (metrics.ts): off unless a port is set. */
export interface MetricsSettings {
  /** `SIGNIN_METRICS_PORT` / `PLACEMENTS_METRICS_PORT`; never the public port. 0 picks a free one (tests). */
  port: number | undefined
  /** `SIGNIN_METRICS_HOST` / `PLACEMENTS_METRICS_HOST`, else `METRICS_HOST`, else 127.0.0.1. */
  host: string
}

export function readMetricsSettings(env: NodeJS.ProcessEnv, service: 'SIGNIN' | 'PLACEMENTS'): MetricsSettings {
  const name = `${service}_METRICS_PORT`
  const value = env[name]
  return {
    port: value === undefined || value === '' ? undefined : integer(value, 0, name),
    host: env[`${service}_METRICS_HOST`] || env.METRICS_HOST || '127.0.0.1'
  }
}
