import { randomUUID } from 'node:crypto'
import type { CacheBackend } from '@dcache/core'
import type { BackendCheck, BackendFactory, CheckContext, PrefixedBackendFactory } from './check.js'
import { type ClockMode, startClock } from './clock.js'

/** How {@link runCheck} builds the backends a check works with. */
export interface RunCheckOptions {
  /** Creates a fresh backend; called once per check. */
  readonly create: BackendFactory
  /** Creates a backend scoped to `prefix` on a shared store; enables the `prefix` checks. */
  readonly createWithPrefix?: PrefixedBackendFactory | undefined
  /** @default 'real' */
  readonly clock?: ClockMode | undefined
  /** Prepended to every key the check writes. @default a random `dcache-conformance:<id>:` */
  readonly keyPrefix?: string | undefined
}

/** How a check ended when it did not fail. */
export type CheckOutcome = { readonly status: 'passed' } | { readonly status: 'skipped'; readonly reason: string }

/** Deadline for deleting a check's keys afterwards, so a broken backend cannot hang the run. */
const CLEANUP_TIMEOUT_MS = 5_000

let checksStarted = 0

/**
 * Runs one conformance check against a fresh backend, then deletes the keys it wrote and closes
 * every instance it opened. Rejects with the check's assertion error when the backend fails it.
 *
 * @example
 * ```ts
 * const check = backendSuites.find((s) => s.name === 'values')!.checks[0]!
 * await expect(runCheck(check, { create: () => new BrokenBackend() })).rejects.toThrow()
 * ```
 */
export async function runCheck(check: BackendCheck, options: RunCheckOptions): Promise<CheckOutcome> {
  const prefix = `${options.keyPrefix ?? defaultKeyPrefix()}${++checksStarted}:`
  const clock = startClock(options.clock ?? 'real')
  const opened: CacheBackend[] = []
  const keys = new Set<string>()
  let checkFailed = true
  try {
    const open = async (factory: BackendFactory): Promise<CacheBackend> => {
      const backend = await factory()
      opened.push(backend)
      return backend
    }
    const context: CheckContext = {
      backend: await open(options.create),
      clock,
      prefix,
      key: (name) => {
        keys.add(prefix + name)
        return prefix + name
      },
      open,
      create: options.create,
      createWithPrefix: options.createWithPrefix,
    }
    const reason = check.unlessSupported?.(context)
    if (reason !== undefined) {
      checkFailed = false
      return { status: 'skipped', reason }
    }
    await check.run(context)
    checkFailed = false
    return { status: 'passed' }
  } finally {
    clock.restore()
    const closing = cleanUp(opened, [...keys])
    // Keep the check's own error visible rather than one from closing after it.
    if (checkFailed) await closing.catch(() => {})
    else await closing
  }
}

function defaultKeyPrefix(): string {
  return `dcache-conformance:${randomUUID().slice(0, 8)}:`
}

async function cleanUp(backends: readonly CacheBackend[], keys: readonly string[]): Promise<void> {
  for (const backend of backends) {
    const signal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS)
    // Best effort: the check already passed or failed on its own merits.
    await Promise.allSettled(keys.map((key) => backend.delete(key, { signal })))
  }
  // A close() that rejects is a conformance failure of its own, so it is not swallowed.
  for (const backend of backends) await backend.close?.()
}
