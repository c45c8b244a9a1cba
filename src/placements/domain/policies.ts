import type { Organisation, User } from './users.ts'

/**
 * Who may do what, in one place. A principal is loaded afresh on every request, so a
 * removed membership takes effect at the person's next request.
 */
export interface Principal {
  user: User
  organisations: Organisation[]
  isSupport: boolean
  /**
   * A support user whose sign-in did not reach what support pages need (an authenticator
   * app, ADR 10): none of support's powers until they step up.
   */
  supportNeedsStepUp?: boolean
}

export function hasAnyAccess(principal: Principal): boolean {
  return principal.isSupport || principal.supportNeedsStepUp === true || principal.organisations.length > 0
}

export function canViewOrganisation(principal: Principal, organisationId: string): boolean {
  return principal.isSupport || principal.organisations.some((o) => o.id === organisationId)
}

/** Members manage their own organisation's users; support users manage any organisation's. */
export function canManageUsers(principal: Principal, organisationId: string): boolean {
  return canViewOrganisation(principal, organisationId)
}

export function canRemoveMember(principal: Principal, organisationId: string, userId: string): boolean {
  return canManageUsers(principal, organisationId) && principal.user.id !== userId
}

export function canUseSupportConsole(principal: Principal): boolean {
  return principal.isSupport
}
