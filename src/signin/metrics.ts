import { Counter, type Registry } from 'prom-client'
import { currentRequest } from '../platform/request-scope.ts'
import type { AuditEvent, AuditEventName } from './audit.ts'

/**
 * Sign-in's own metrics, derived from the audit events as they are recorded (audit.ts), so
 * no journey counts anything itself and the two cannot disagree. Per node, like every metric.
 */
export interface SigninMetrics {
  count(event: AuditEvent): void
}

const byRegistry = new WeakMap<Registry, SigninMetrics>()

/** What each kind of lockout is called in `signin_lockouts_total{kind}`. */
const lockouts: Partial<Record<AuditEventName, string>> = {
  'sign-in-locked': 'sign-in',
  'second-factor-locked': 'second-factor',
  'password-change-locked': 'password-change',
  'code-limit-reached': 'codes-sent'
}

export function signinMetrics(registry: Registry): SigninMetrics {
  let metrics = byRegistry.get(registry)
  if (metrics) return metrics
  const registers = [registry]
  const signIns = new Counter({ name: 'signin_sign_ins_total', help: 'Correct email address and password (audit event "sign-in", success); a second factor may follow', registers })
  const failures = new Counter({ name: 'signin_sign_in_failures_total', help: 'Wrong email address or password (audit event "sign-in", failure)', registers })
  const locked = new Counter({
    name: 'signin_lockouts_total', help: 'Attempts refused by a limit, by kind: sign-in, second-factor, password-change, codes-sent',
    labelNames: ['kind'] as const, registers
  })
  const secondFactor = new Counter({
    name: 'signin_second_factor_total', help: 'Second factors given, by method (email-code, authenticator-app, recovery-code) and outcome',
    labelNames: ['method', 'outcome'] as const, registers
  })
  // Present (at 0) from the first scrape, so rates and alerts work before anything happens.
  for (const kind of Object.values(lockouts)) locked.inc({ kind }, 0)
  for (const method of ['email-code', 'authenticator-app', 'recovery-code']) {
    for (const outcome of ['success', 'failure']) secondFactor.inc({ method, outcome }, 0)
  }
  metrics = {
    count(event) {
      if (event.event === 'sign-in') (event.outcome === 'success' ? signIns : failures).inc()
      const kind = lockouts[event.event]
      if (kind) locked.inc({ kind })
      if (event.event === 'second-factor') {
        const method = event.details?.factor
        secondFactor.inc({ method: typeof method === 'string' ? method : 'unknown', outcome: event.outcome })
      }
    }
  }
  byRegistry.set(registry, metrics)
  return metrics
}

/** Counts an audit event in the metrics of the node whose request recorded it. */
export function countAuditEvent(event: AuditEvent): void {
  const registry = currentRequest()?.metrics?.registry
  if (registry) signinMetrics(registry).count(event)
}
