// The seed's first example, in TypeScript: cache slowFunction with one line.
// Run it with `pnpm demo` from the repository root.
import { setTimeout as sleep } from 'node:timers/promises'
import { dcache } from '@dcache/core'

/** Stands in for real work: a slow query, an HTTP call, a heavy computation. */
async function slowFunction(n: number): Promise<bigint> {
  await sleep(250)
  return BigInt(n) ** 1000n
}

const cachedSlowFunction = dcache(slowFunction)

async function timed(label: string, n: number): Promise<void> {
  const start = performance.now()
  const value = await cachedSlowFunction(n)
  const ms = performance.now() - start
  console.log(`${label.padEnd(6)} slowFunction(${n}) = ${String(value).slice(0, 12)}… (${String(value).length} digits) in ${ms.toFixed(3)} ms`)
}

await timed('cold', 7)
await timed('warm', 7)
await timed('cold', 8)
await timed('warm', 8)
await timed('warm', 7)

// Like lru_cache's cache_info(): hits, misses, per-tier hits, size.
console.log('cacheInfo():', cachedSlowFunction.cacheInfo())
console.log('key(7):', cachedSlowFunction.key(7))
