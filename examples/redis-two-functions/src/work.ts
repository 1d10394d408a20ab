// The work both versions cache, and how long they keep it. Slow on purpose: it stands in for a
// query, an HTTP call or a heavy computation.
import { setTimeout as sleep } from 'node:timers/promises'

/** How long one computation takes, in ms. */
export const WORK_MS = 200

/** Lifetime of cached results, in ms: the same in both versions, so no key stays forever. */
export const TTL_MS = 60_000

/** `n ** 1000`, exactly: a bigint, since a number would overflow to `Infinity`. */
export async function slowWork(n: number): Promise<bigint> {
  await sleep(WORK_MS)
  return BigInt(n) ** 1000n
}
