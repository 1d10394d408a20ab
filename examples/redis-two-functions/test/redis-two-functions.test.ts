// Both versions of the seed's "dcache vs redis" against a real Redis: REDIS_URL, by default
// redis://127.0.0.1:6379. Without a server the tests are skipped with the reason printed; with
// CI=true a missing server fails the run instead.
import { RedisBackend } from '@dcache/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { byHand } from '../src/by-hand.ts'
import { withDcache } from '../src/with-dcache.ts'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const required = process.env.CI === 'true' || process.env.CI === '1'

/** `undefined` when a Redis at `url` answers PING; otherwise why it cannot be used. */
async function whyUnavailable(): Promise<string | undefined> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2_000 })
  let cause: unknown
  probe.on('error', (error) => (cause = error))
  try {
    await probe.connect()
    await probe.ping()
    return undefined
  } catch (error) {
    return `no Redis at ${url} (${String(cause ?? error)}); start redis-server or set REDIS_URL`
  } finally {
    probe.disconnect()
  }
}

const unavailable = await whyUnavailable()
if (unavailable !== undefined) {
  if (required) throw new Error(`CI=true and the Redis example cannot be tested: ${unavailable}`)
  console.warn(`[example-redis-two-functions] skipping: ${unavailable}`)
}

describe.skipIf(unavailable !== undefined)('two functions cached in Redis, by hand and with dcache', () => {
  // A prefix of its own, so the test never touches other keys; removed afterwards.
  const prefix = `test:redis-two-functions:${process.pid}:${Date.now()}:`
  let redis: Redis

  beforeAll(() => {
    redis = new Redis(url)
  })
  afterAll(async () => {
    await new RedisBackend({ client: redis, prefix }).clear()
    await redis.quit()
  })

  it('returns the same values by hand and with dcache, computed and cached', async () => {
    const before = byHand(redis, `${prefix}same:`)
    const after = withDcache(redis, `${prefix}same:`)
    for (const n of [2, 7]) {
      const expected = BigInt(n) ** 1000n
      const values = [
        await before.slowFunction(n),
        await before.slowFunction(n),
        await before.slowFunction2(n),
        await before.slowFunction2(n),
        await after.slowFunction(n),
        await after.slowFunction(n),
        await after.slowFunction2(n),
        await after.slowFunction2(n),
      ]
      expect(values).toEqual(Array.from({ length: 8 }, () => expected))
    }
  })

  it("answers the dcache version's second call from Redis", async () => {
    const { slowFunction, slowFunction2 } = withDcache(redis, `${prefix}hit:`)
    const expected = 5n ** 1000n

    expect(await slowFunction(5)).toBe(expected)
    expect(slowFunction.cacheInfo()).toMatchObject({ hits: 0, misses: 1, errors: 0 })
    expect(await redis.exists(`${prefix}hit:${slowFunction.key(5)}`)).toBe(1)

    expect(await slowFunction(5)).toBe(expected)
    expect(slowFunction.cacheInfo()).toMatchObject({ hits: 1, misses: 1, tierHits: [1], errors: 0 })

    // Each function has its own keys: slowFunction2(5) is not slowFunction(5)'s entry.
    expect(await slowFunction2(5)).toBe(expected)
    expect(slowFunction2.cacheInfo()).toMatchObject({ hits: 0, misses: 1 })
  })
})
