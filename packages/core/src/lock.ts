import { setTimeout as sleep } from 'node:timers/promises'
import type { Expectation } from './coherence.js'
import type { LockOptions, ResolvedTier } from './options.js'
import { acquireLock, extendLock, releaseLock, type RemoteHit, type TierReporter } from './remote-tier.js'

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

/**
 * Cross-process single-flight on one key. The caller that takes the lock runs `computeAndStore`
 * (which writes the result to the tiers) and releases the lock afterwards, renewing it while it
 * runs. The others wait for the holder's notice on the bus (`expectNotice`), or poll when there
 * is none, then read the shared tier with `read`; they take the lock themselves once it is free
 * (its holder died), or compute after `wait` ms. A lock that cannot be
 * reached (the backend is down) means computing right away: a lock must never cost a result.
 */
export async function runUnderLock(
  tier: ResolvedTier,
  lockKey: string,
  settings: Required<LockOptions>,
  report: TierReporter,
  read: () => Promise<RemoteHit | undefined>,
  computeAndStore: () => Promise<unknown>,
  expectNotice: () => Expectation | undefined = () => undefined,
): Promise<LockedResult> {
  const giveUpAt = Date.now() + settings.wait
  // Listen before trying: the holder's notice may come before our failed attempt returns.
  let notice = expectNotice()
  let token = await acquireLock(tier, lockKey, settings.ttl, report)
  const waited = token === undefined
  for (let delay = FIRST_POLL; token === undefined; delay = Math.min(delay * 2, MAX_POLL)) {
    if (Date.now() >= giveUpAt) break
    if (notice === undefined) await sleep(delay)
    else await notice.wait(Math.min(NOTICE_POLL, Math.max(0, giveUpAt - Date.now())))
    const hit = await read()
    if (hit !== undefined) return { computed: false, hit }
    notice = expectNotice()
    token = await acquireLock(tier, lockKey, settings.ttl, report)
  }
  notice?.cancel()
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
