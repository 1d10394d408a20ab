import { setTimeout as sleep } from 'node:timers/promises'
import type { LockOptions, ResolvedTier } from './options.js'
import { acquireLock, extendLock, releaseLock, type RemoteHit, type TierReporter } from './remote-tier.js'

/** What a caller under `lock` ends up with: its own result, or the one another process stored. */
export type LockedResult = { readonly computed: true; readonly value: unknown } | { readonly computed: false; readonly hit: RemoteHit }

/** Steps of the waiters' polling, in ms: quick at first, then at most every 100 ms. */
const FIRST_POLL = 5
const MAX_POLL = 100

/**
 * Cross-process single-flight on one key. The caller that takes the lock runs `computeAndStore`
 * (which writes the result to the tiers) and releases the lock afterwards, renewing it while it
 * runs. The others poll the shared tier with `read` until the result appears, take the lock
 * themselves once it is free (its holder died), or compute after `wait` ms. A lock that cannot be
 * reached (the backend is down) means computing right away: a lock must never cost a result.
 */
export async function runUnderLock(
  tier: ResolvedTier,
  lockKey: string,
  settings: Required<LockOptions>,
  report: TierReporter,
  read: () => Promise<RemoteHit | undefined>,
  computeAndStore: () => Promise<unknown>,
): Promise<LockedResult> {
  const giveUpAt = Date.now() + settings.wait
  let token = await acquireLock(tier, lockKey, settings.ttl, report)
  const waited = token === undefined
  for (let delay = FIRST_POLL; token === undefined; delay = Math.min(delay * 2, MAX_POLL)) {
    if (Date.now() >= giveUpAt) break
    await sleep(delay)
    const hit = await read()
    if (hit !== undefined) return { computed: false, hit }
    token = await acquireLock(tier, lockKey, settings.ttl, report)
  }
  if (typeof token !== 'string') return { computed: true, value: await computeAndStore() }
  if (waited) {
    // The previous holder may have stored its result between our last read and its release.
    const hit = await read()
    if (hit !== undefined) {
      await releaseLock(tier, lockKey, token, report)
      return { computed: false, hit }
    }
  }

  const renew = setInterval(() => void extendLock(tier, lockKey, token, settings.ttl, report), settings.ttl / 3)
  renew.unref()
  try {
    return { computed: true, value: await computeAndStore() }
  } finally {
    clearInterval(renew)
    await releaseLock(tier, lockKey, token, report)
  }
}
