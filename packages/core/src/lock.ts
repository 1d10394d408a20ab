import { setTimeout as sleep } from 'node:timers/promises'
import type { Expectation } from './coherence.js'
import type { LockOptions, ResolvedTier } from './options.js'
import { acquireLock, extendLock, type ReadOrLock, type RemoteHit, type TierReporter } from './remote-tier.js'

/** What a caller under `lock` ends up with: its own result, or the one another process stored. */
export type LockedResult = { readonly computed: true; readonly value: unknown } | { readonly computed: false; readonly hit: RemoteHit }

/** Steps of the waiters' polling, in ms: quick at first, then at most every 100 ms. */
const FIRST_POLL = 5
const MAX_POLL = 100
/**
 * With a bus, waiters sleep until the holder's notice that the value is stored; they still look
 * every this many ms, to notice a holder that died.
 */
const NOTICE_POLL = 250

/** What {@link runUnderLock} does on the shared tier, bound to one call. */
export interface LockSteps {
  /** Read the shared tier. */
  read(): Promise<RemoteHit | undefined>
  /** Read, and take the lock when the entry is absent, in one round trip; `null` when the backend cannot tell. */
  readOrLock(): Promise<ReadOrLock>
  /** Run the function and write its result to the tiers; `locked`: while holding the lock. */
  computeAndStore(locked: boolean): Promise<unknown>
  /** Release the lock; `stored`: the result was stored (so the release may announce it). */
  release(token: string, stored: boolean): Promise<void>
  /** Start listening for the holder's notice; `undefined` without a working bus. */
  expectNotice(): Expectation | undefined
}

/** Where the caller's first look at the shared tier left it, when it already tried the lock. */
export interface FirstAttempt {
  /** The token (the lock is ours), or `undefined` (someone else holds it). */
  readonly token: string | undefined
  /** Listening for the holder's notice since before that attempt. */
  readonly notice: Expectation | undefined
}

/**
 * Cross-process single-flight on one key. The caller that takes the lock runs `computeAndStore`
 * (which writes the result to the tiers) and releases the lock afterwards, renewing it while it
 * runs. The others wait for the holder's notice on the bus, or poll when there is none, then
 * read the shared tier (in the same round trip as their next attempt at the lock, when the
 * backend has `getOrAcquire`); they take the lock themselves once it is free (its holder died),
 * or compute after `wait` ms. A lock that cannot be reached (the backend is down) means
 * computing right away: a lock must never cost a result.
 */
export async function runUnderLock(
  tier: ResolvedTier,
  lockKey: string,
  settings: Required<LockOptions>,
  report: TierReporter,
  steps: LockSteps,
  first?: FirstAttempt,
): Promise<LockedResult> {
  const giveUpAt = Date.now() + settings.wait
  // Listen before trying: the holder's notice may come before our failed attempt returns.
  let notice = first === undefined ? steps.expectNotice() : first.notice
  let token = first === undefined ? await acquireLock(tier, lockKey, settings.ttl, report) : first.token
  /** The entry was found absent by the same atomic step that took the lock. */
  let checked = first !== undefined || token !== undefined
  for (let delay = FIRST_POLL; token === undefined; delay = Math.min(delay * 2, MAX_POLL)) {
    if (Date.now() >= giveUpAt) break
    if (notice === undefined) await sleep(delay)
    else await notice.wait(Math.min(NOTICE_POLL, Math.max(0, giveUpAt - Date.now())))
    notice = steps.expectNotice()
    const found = await steps.readOrLock()
    if (found !== null) {
      if ('hit' in found) {
        notice?.cancel()
        return { computed: false, hit: found.hit }
      }
      token = found.token
      checked = true
      continue
    }
    const hit = await steps.read()
    if (hit !== undefined) {
      notice?.cancel()
      return { computed: false, hit }
    }
    token = await acquireLock(tier, lockKey, settings.ttl, report)
    checked = false
  }
  notice?.cancel()
  if (typeof token !== 'string') return { computed: true, value: await steps.computeAndStore(false) }
  if (!checked) {
    // The previous holder may have stored its result between our last read and its release.
    const hit = await steps.read()
    if (hit !== undefined) {
      await steps.release(token, false)
      return { computed: false, hit }
    }
  }

  const renew = setInterval(() => void extendLock(tier, lockKey, token, settings.ttl, report), settings.ttl / 3)
  renew.unref()
  let stored = false
  try {
    const value = await steps.computeAndStore(true)
    stored = true
    return { computed: true, value }
  } finally {
    clearInterval(renew)
    await steps.release(token, stored)
  }
}
