// Before: the seed's "dcache vs redis", caching by hand around an ioredis client. Each function
// repeats get → miss → compute → set, with a key and a serialisation of its own.
// What it does not do: a Redis error fails the call; concurrent misses all compute; two functions
// share keys unless each picks its own; nothing counts hits and misses.
import type { Redis } from 'ioredis'
import { slowWork, TTL_MS } from './work.ts'

/** The two hand-cached functions, with their keys under `prefix`. */
export function byHand(redis: Redis, prefix = '') {
  async function slowFunction(n: number): Promise<bigint> {
    const key = `${prefix}slowFunction:${n}`
    const cached = await redis.get(key)
    if (cached !== null) return BigInt(cached)
    const value = await slowWork(n)
    await redis.set(key, value.toString(), 'PX', TTL_MS)
    return value
  }

  async function slowFunction2(n: number): Promise<bigint> {
    const key = `${prefix}slowFunction2:${n}`
    const cached = await redis.get(key)
    if (cached !== null) return BigInt(cached)
    const value = await slowWork(n)
    await redis.set(key, value.toString(), 'PX', TTL_MS)
    return value
  }

  return { slowFunction, slowFunction2 }
}
