// The seed's first example, in TypeScript: cache slowFunction with one line. Run it with
// `pnpm demo` from the repository root, twice: the second run is answered from disk.
// Tiers: memory first, then an SQLite file that every process of this user shares.
import { setTimeout as sleep } from 'node:timers/promises'
import { dcache, InMemoryBackend } from '@dcache/core'
import { SqliteBackend } from '@dcache/sqlite'

/** Stands in for real work: a slow query, an HTTP call, a heavy computation. */
async function slowFunction(n: number): Promise<bigint> {
  await sleep(250)
  return BigInt(n) ** 1000n
}

const sqlite = new SqliteBackend() // ~/.cache/dcache/cache.sqlite ($XDG_CACHE_HOME respected)
const cachedSlowFunction = dcache({ multiple: [new InMemoryBackend(), sqlite], ttl: 60 * 60_000 })(slowFunction)

let servedBy = 'computed'
cachedSlowFunction.on('hit', ({ backend }) => (servedBy = backend))

async function timed(n: number): Promise<void> {
  servedBy = 'computed'
  const start = performance.now()
  const value = await cachedSlowFunction(n)
  const ms = performance.now() - start
  console.log(`slowFunction(${n}) = ${String(value).slice(0, 12)}… (${String(value).length} digits) in ${ms.toFixed(3).padStart(8)} ms  ${servedBy}`)
}

await timed(7)
await timed(7)
await timed(8)
await timed(8)

// Like lru_cache's cache_info(): hits, misses, per-tier hits (memory, sqlite), size.
console.log('cacheInfo():', cachedSlowFunction.cacheInfo())
console.log(`key(7): ${cachedSlowFunction.key(7)}`)
console.log(`\nRun it again: the first calls now come from ${sqlite.path} instead of running slowFunction.`)
await sqlite.close()
