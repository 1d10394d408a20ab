// After: the same two functions with dcache and one RedisBackend. Keys come from each function's
// name and arguments, a bigint comes back a bigint, concurrent calls share one run, every Redis
// operation has a deadline, and when Redis is down the functions compute instead of failing.
import { dcache } from '@dcache/core'
import { RedisBackend } from '@dcache/redis'
import type { Redis } from 'ioredis'
import { slowWork, TTL_MS } from './work.ts'

/** The two cached functions, on `redis` (which the backend uses but never closes), keys under `prefix`. */
export function withDcache(redis: Redis, prefix = '') {
  const cache = dcache(new RedisBackend({ client: redis, prefix }), { ttl: TTL_MS })

  const slowFunction = cache(async function slowFunction(n: number) {
    return slowWork(n)
  })

  const slowFunction2 = cache(async function slowFunction2(n: number) {
    return slowWork(n)
  })

  return { slowFunction, slowFunction2 }
}
