/** The one source of "now" for domain code, so tests can move time without waiting. */
export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }

/** A clock tests can move by hand. */
export class FakeClock implements Clock {
  #time: number
  constructor(start: Date | string = '2026-01-01T09:00:00Z') {
    this.#time = new Date(start).getTime()
  }
  now(): Date {
    return new Date(this.#time)
  }
  advanceSeconds(seconds: number): void {
    this.#time += seconds * 1000
  }
}
