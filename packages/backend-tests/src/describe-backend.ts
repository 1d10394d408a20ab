import { randomUUID } from 'node:crypto'
import { describe, it } from 'vitest'
import type { BackendFactory, PrefixedBackendFactory, SuiteName } from './check.js'
import type { ClockMode } from './clock.js'
import { runCheck } from './run-check.js'
import { backendSuites } from './suites.js'

/** A sub-suite to skip, optionally with the reason: `'bus'` or `'bus: no pub/sub in this store'`. */
export type SkippedSuite = SuiteName | `${SuiteName}: ${string}`

/** Options of {@link describeBackend}. Durations are milliseconds. */
export interface DescribeBackendOptions {
  /**
   * Creates a fresh backend. Called once per test; the suite deletes the keys the test wrote and
   * calls `close()` afterwards. Some checks call `clear()`, so point it at a namespace used only
   * by tests.
   */
  readonly create: BackendFactory
  /**
   * How expiry is tested. `'fake'` fakes only `Date` (`vi.useFakeTimers({ toFake: ['Date'] })`)
   * and moves it by hand: instant, for backends that compute expiry from `Date.now()`. `'real'`
   * polls for at most a few × `capabilities.expiryResolution`, for stores that expire entries
   * themselves.
   * @default 'real'
   */
  readonly clock?: ClockMode
  /**
   * Creates a backend whose keys live under `prefix` on a store shared by every instance it
   * creates. When given, the suite checks that two prefixes do not see or clear each other's keys.
   */
  readonly createWithPrefix?: PrefixedBackendFactory
  /**
   * Sub-suites to skip, each reported as skipped with its reason. Avoid unless the store truly
   * cannot do what the sub-suite checks.
   */
  readonly skip?: readonly SkippedSuite[]
  /**
   * Deadline of each test.
   * @default 30_000
   */
  readonly timeout?: number
}

const SUITE_NAMES = new Set<string>(backendSuites.map((suite) => suite.name))

/**
 * Registers the conformance suite for one backend as a vitest `describe(name, …)` block. Every
 * test gets a fresh instance and a key prefix unique to the run, so several runs can share one
 * real server.
 *
 * @example
 * ```ts
 * import { describeBackend } from '@dcache/backend-tests'
 * import { MyBackend } from '../src/my-backend.js'
 *
 * describeBackend('MyBackend', { create: () => new MyBackend(), clock: 'fake' })
 * ```
 */
export function describeBackend(name: string, options: DescribeBackendOptions): void {
  const skipped = parseSkips(options.skip ?? [])
  const keyPrefix = `dcache-conformance:${randomUUID().slice(0, 8)}:`
  const announced = new Set<string>()
  describe(name, () => {
    for (const suite of backendSuites) {
      describe(suite.name, () => {
        const skipReason = skipped.get(suite.name)
        for (const check of suite.checks) {
          if (skipReason !== undefined) {
            it.skip(`${check.name} (skipped: ${skipReason})`, () => {})
            continue
          }
          it(
            check.name,
            async (test) => {
              const outcome = await runCheck(check, {
                create: options.create,
                createWithPrefix: options.createWithPrefix,
                clock: options.clock,
                keyPrefix,
              })
              if (outcome.status === 'skipped') {
                const message = `[backend-tests] ${name} › ${suite.name}: skipped, ${outcome.reason}`
                if (!announced.has(message)) console.info(message)
                announced.add(message)
                test.skip(outcome.reason)
              }
            },
            options.timeout ?? 30_000,
          )
        }
        if (skipReason !== undefined) console.info(`[backend-tests] ${name} › ${suite.name}: skipped, ${skipReason}`)
      })
    }
  })
}

function parseSkips(skips: readonly SkippedSuite[]): Map<string, string> {
  const reasons = new Map<string, string>()
  for (const entry of skips) {
    const separator = entry.indexOf(':')
    const suite = (separator === -1 ? entry : entry.slice(0, separator)).trim()
    if (!SUITE_NAMES.has(suite)) {
      throw new TypeError(`describeBackend: unknown sub-suite "${suite}" in skip; known: ${[...SUITE_NAMES].join(', ')}`)
    }
    const reason = separator === -1 ? '' : entry.slice(separator + 1).trim()
    reasons.set(suite, reason || 'listed in options.skip without a reason')
  }
  return reasons
}
