// Runs both versions of the seed's "dcache vs redis" against one Redis and prints how long each
// call took, then dcache's cacheInfo(). Build the packages (`pnpm build`), then, from the
// repository root: `pnpm --filter @dcache/example-redis-two-functions start`.
// REDIS_URL chooses the server (default redis://127.0.0.1:6379).
import { inspect } from 'node:util'
import { RedisBackend } from '@dcache/redis'
import { Redis } from 'ioredis'
import { byHand } from './by-hand.ts'
import { withDcache } from './with-dcache.ts'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = 'example:redis-two-functions:'

const redis = new Redis(url, { lazyConnect: true })
let lastError: unknown
redis.on('error', (error) => (lastError = error))
try {
  await redis.connect()
} catch (error) {
  console.error(`No Redis at ${url}: ${String(lastError ?? error)}. Start redis-server, or set REDIS_URL.`)
  redis.disconnect()
  process.exit(1)
}

// Start cold on every run: remove what an earlier run left under the prefix (SCAN, not KEYS).
await new RedisBackend({ client: redis, prefix }).clear()

async function timed(label: string, call: () => Promise<bigint>): Promise<void> {
  const start = performance.now()
  const value = String(await call())
  const ms = performance.now() - start
  console.log(`  ${label.padEnd(17)} ${ms.toFixed(2).padStart(8)} ms   ${value.slice(0, 12)}… (${value.length} digits)`)
}

type TwoFunctions = ReturnType<typeof byHand>

async function run(title: string, { slowFunction, slowFunction2 }: TwoFunctions): Promise<void> {
  console.log(title)
  await timed('slowFunction(7)', () => slowFunction(7))
  await timed('slowFunction(7)', () => slowFunction(7))
  await timed('slowFunction2(7)', () => slowFunction2(7))
  await timed('slowFunction2(7)', () => slowFunction2(7))
}

const after = withDcache(redis, prefix)
await run('By hand (get → miss → compute → set):', byHand(redis, prefix))
await run('With dcache:', after)

// Like lru_cache's cache_info(): the second call of each function was a hit in Redis.
console.log('\ncacheInfo() of the dcache version:')
const oneLine = (value: unknown) => inspect(value, { breakLength: Infinity })
console.log(`  slowFunction:  ${oneLine(after.slowFunction.cacheInfo())}`)
console.log(`  slowFunction2: ${oneLine(after.slowFunction2.cacheInfo())}`)
console.log(`  key(7) in Redis: ${prefix}${after.slowFunction.key(7)}`)
await redis.quit()
