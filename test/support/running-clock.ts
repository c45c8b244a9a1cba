import type { Clock } from '../../src/platform/clock.ts'

/**
 * Real time, plus however far a test has moved it on. Unlike FakeClock it keeps running,
 * so whatever a test does not move (newest-first lists, sessions, the provider's own
 * real-time stamps) behaves as on the system clock; a test that would otherwise wait for
 * time to pass (the next 30-second step of an authenticator app) moves it on instead.
 */
export class RunningClock implements Clock {
  #offsetMs = 0
  now(): Date {
    return new Date(Date.now() + this.#offsetMs)
  }
  advanceSeconds(seconds: number): void {
    this.#offsetMs += seconds * 1000
  }
}
