import { AsyncLocalStorage } from 'node:async_hooks'
import type { ServiceMetrics } from './metrics.ts'

/**
 * What code deep in a request (the audit recorder, the error pages, the provider's hooks)
 * may need without being handed it: the request's id, and the node's metrics to count in.
 */
export interface RequestScope {
  readonly id: string
  readonly metrics: ServiceMetrics | undefined
}

const storage = new AsyncLocalStorage<RequestScope>()

export function currentRequest(): RequestScope | undefined {
  return storage.getStore()
}

export function inRequestScope<T>(scope: RequestScope, work: () => T): T {
  return storage.run(scope, work)
}
