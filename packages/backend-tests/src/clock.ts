import { vi } from 'vitest'

/** Which clock the suite uses to test expiry. */
export type ClockMode = 'real' | 'fake'

/** Time as seen by a check: frozen and moved by hand (`fake`) or the wall clock (`real`). */
export interface TestClock {
  readonly mode: ClockMode
  /** `Date.now()`, faked or not. */
  now(): number
  /**
   * Lets `ms` milliseconds pass, then asserts `assertion`. With a fake clock time jumps and the
   * assertion runs once; with a real clock it is polled until it holds, for at most `ms` plus a
   * few × `resolution` (plus a small allowance for round trips).
   */
  after(ms: number, resolution: number, assertion: () => Promise<void>): Promise<void>
  /** A lifetime long enough to read an entry back before it expires, yet short to wait for. */
  shortLifetime(resolution: number): number
  /** Puts the timers back as they were. */
  restore(): void
}

/** Round trips to a real server take time that no expiry resolution accounts for. */
const ROUND_TRIP_ALLOWANCE_MS = 250

/**
 * Starts a clock for one check. `fake` only fakes `Date` (via vitest), so backends that compute
 * expiry from `Date.now()` can be tested instantly while their I/O and timers stay real.
 */
export function startClock(mode: ClockMode): TestClock {
  if (mode === 'fake') {
    const start = Date.now()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(start)
    return {
      mode,
      now: () => Date.now(),
      async after(ms, _resolution, assertion) {
        vi.setSystemTime(Date.now() + ms)
        await assertion()
      },
      shortLifetime: (resolution) => 2 * resolution,
      restore: () => vi.useRealTimers(),
    }
  }
  return {
    mode,
    now: () => Date.now(),
    async after(ms, resolution, assertion) {
      await vi.waitFor(assertion, {
        timeout: ms + 4 * resolution + ROUND_TRIP_ALLOWANCE_MS,
        interval: Math.min(Math.max(resolution / 4, 5), 100),
      })
    },
    // 2× resolution is too short to read back through a network when the resolution is 1 ms.
    shortLifetime: (resolution) => Math.max(2 * resolution, ROUND_TRIP_ALLOWANCE_MS),
    restore: () => {},
  }
}
