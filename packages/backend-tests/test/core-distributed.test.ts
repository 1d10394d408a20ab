// The core's cross-process features (`lock`, coherence) on MapBackend instances that share one
// store, as two processes share a server. The same behaviour against real Redis processes is
// tested in @dcache/redis.
import { dcache, InMemoryBackend, type BusFacet, type CacheBackend, type EvictEvent, type LocksFacet } from '@dcache/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ChaosBackend, MapBackend } from '../src/index.js'
import { delegating } from './delegating.js'

afterEach(() => {
  vi.useRealTimers()
})

/** Two "processes": each its own backend instance (own bus subscription, own locks client) on one store. */
function twoProcesses() {
  const first = new MapBackend()
  return [first, new MapBackend({ sharedWith: first })] as const
}

/** `backend` with some of its facets replaced (a broken lock, a bus that reports its state). */
const withFacets = (backend: MapBackend, facets: Pick<CacheBackend, 'locks' | 'bus'>): CacheBackend => delegating(backend, facets)

/** Resolves after pending bus deliveries (they are asynchronous). */
const delivered = () => new Promise((resolve) => setImmediate(resolve))

/** `backend` with only the required lock methods: one round trip per step, no combined ones. */
function withBasicLocks(backend: MapBackend): CacheBackend {
  const { locks } = backend
  return withFacets(backend, {
    locks: {
      tryAcquire: (key, ttl, options) => locks.tryAcquire(key, ttl, options),
      release: (key, token, options) => locks.release(key, token, options),
      extend: (key, token, ttl, options) => locks.extend(key, token, ttl, options),
    },
  })
}

const lockVariants = [
  ['getOrAcquire and releaseAndPublish', (backend: MapBackend): CacheBackend => backend],
  ['only the required lock methods', withBasicLocks],
] as const

describe.each(lockVariants)('lock: cross-process single-flight, with %s', (_label, variant) => {
  it('runs the function once in total for concurrent cold calls from several processes', async () => {
    const store = new MapBackend()
    const processes = Array.from({ length: 4 }, () => variant(new MapBackend({ sharedWith: store })))
    let runs = 0
    const functions = processes.map((backend) =>
      dcache(backend, { lock: true })(
        async function report(id: number) {
          runs++
          await new Promise((resolve) => setTimeout(resolve, 30))
          return { id, rows: [1, 2, 3] }
        },
      ),
    )
    const results = await Promise.all(functions.flatMap((fn) => Array.from({ length: 50 }, () => fn(7))))
    expect(runs).toBe(1)
    expect(results.every((result) => result.id === 7 && result.rows.length === 3)).toBe(true)
    // The waiters were served from the shared tier.
    expect(functions.reduce((hits, fn) => hits + fn.cacheInfo().hits, 0)).toBe(3)
  })

  it("lets waiters sleep until the holder's notice instead of polling the shared tier", async () => {
    const [first, second] = twoProcesses()
    // Reads of the shared tier: plain gets, and the lock attempts that read too (getOrAcquire).
    let lookups = 0
    const locks = variant(second).locks!
    const getOrAcquire = locks.getOrAcquire?.bind(locks)
    const counted: LocksFacet = {
      tryAcquire: (key, ttl, options) => locks.tryAcquire(key, ttl, options),
      release: (key, token, options) => locks.release(key, token, options),
      ...(getOrAcquire && {
        getOrAcquire: (key: string, lockKey: string, ttl: number) => {
          lookups++
          return getOrAcquire(key, lockKey, ttl)
        },
      }),
      ...(locks.releaseAndPublish && { releaseAndPublish: locks.releaseAndPublish.bind(locks) }),
    }
    const holder = new ChaosBackend(variant(first))
    const waiter = new ChaosBackend(withFacets(second, { locks: counted }))
    const slow = (backend: CacheBackend) =>
      dcache(backend, { lock: true })(async function slow(n: number) {
        await new Promise((resolve) => setTimeout(resolve, 200))
        return n * 2
      })
    const [onHolder, onWaiter] = [slow(holder), slow(waiter)]
    await delivered() // both subscribed to the bus
    const leading = onHolder(21)
    await new Promise((resolve) => setTimeout(resolve, 10)) // the holder has the lock
    expect(await Promise.all([leading, onWaiter(21)])).toEqual([42, 42])
    // One read before trying the lock, one after the notice (polling would have read ~7 times).
    expect(waiter.calls.get + lookups).toBe(2)
    expect(lookups, 'the combined read-and-lock is used when the backend has it').toBe(getOrAcquire ? 2 : 0)
    expect(onWaiter.cacheInfo()).toMatchObject({ hits: 1, misses: 0 })
  })

  it('takes over after the lock TTL when the holder died without releasing it', async () => {
    const [dead, alive] = twoProcesses()
    const cached = dcache(variant(alive), { lock: { ttl: 100, wait: 5_000 } })(async function total(n: number) {
      return n * 10
    })
    // A holder that was killed: its lock stays until the TTL runs out.
    const lockKey = `${cached.key(4)}:lock`
    expect(await dead.locks.tryAcquire(lockKey, 100)).toBeTypeOf('string')
    const start = performance.now()
    expect(await cached(4)).toBe(40)
    expect(performance.now() - start).toBeGreaterThanOrEqual(90)
  })

  it('computes at once, still once per process, when the lock cannot be reached', async () => {
    const store = new MapBackend()
    const broken = withFacets(store, {
      locks: { tryAcquire: () => Promise.reject(new Error('connection refused')), release: async () => false },
    })
    let runs = 0
    const cached = dcache(broken, { lock: true })(async function total(n: number) {
      runs++
      return n * 10
    })
    const errors: string[] = []
    cached.on('error', ({ error }) => errors.push(error.operation))
    expect(await Promise.all(Array.from({ length: 100 }, () => cached(5)))).toEqual(Array.from({ length: 100 }, () => 50))
    expect(runs).toBe(1)
    expect(errors).toEqual(['lock'])
  })

  it('is a TypeError at wrap time when no tier has the locks facet', () => {
    expect(() => dcache({ backend: new InMemoryBackend(), lock: true })(async function total(n: number) {
      return n
    })).toThrow(/`lock` on "total" needs a tier whose backend has the locks facet/)
  })
})

describe('coherence between memory tiers', () => {
  function wrap(shared: CacheBackend, source: Map<number, string>) {
    const cached = dcache({ multiple: [new InMemoryBackend(), shared] })(async function price(id: number) {
      return source.get(id) ?? 'none'
    })
    const evictions: EvictEvent[] = []
    cached.on('evict', (event) => evictions.push(event))
    return { cached, evictions }
  }

  it('evicts a key invalidated by another process from this process memory tier', async () => {
    const [a, b] = twoProcesses()
    const source = new Map([[1, 'v1']])
    const first = wrap(a, source)
    const second = wrap(b, source)
    await delivered() // both subscribed
    expect(await first.cached(1)).toBe('v1')
    expect(await second.cached(1)).toBe('v1')
    expect(second.cached.cacheInfo().tierHits).toEqual([0, 1])

    source.set(1, 'v2')
    await first.cached.invalidate(1)
    await delivered()
    expect(second.evictions).toEqual([{ type: 'evict', name: 'price', key: second.cached.key(1), reason: 'coherence' }])
    expect(first.evictions).toEqual([]) // its own notice
    expect(await second.cached(1)).toBe('v2')
  })

  it('evicts a key another process wrote a new value for', async () => {
    const [a, b] = twoProcesses()
    const source = new Map([[1, 'old']])
    const writer = wrap(a, source)
    const reader = wrap(b, source)
    await delivered()
    expect(await reader.cached(1)).toBe('old')
    // The shared entry goes (expired there, or removed by hand); the writer computes anew.
    await a.clear()
    source.set(1, 'new')
    expect(await writer.cached(1)).toBe('new')
    await delivered()
    expect(reader.evictions.map((event) => event.reason)).toEqual(['coherence'])
    expect(await reader.cached(1)).toBe('new')
  })

  it('clears memory tiers when the bus drops, and keeps entries only `staleness` ms until it is back', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = new MapBackend()
    let report: (connected: boolean) => void = () => {}
    const bus: BusFacet = {
      publish: (channel, message, options) => store.bus.publish(channel, message, options),
      subscribe: (channel, onMessage) => store.bus.subscribe(channel, onMessage),
      watch: (listener) => {
        report = listener
        return () => {}
      },
    }
    const { cached, evictions } = wrap(withFacets(store, { bus }), new Map([[1, 'v1']]))
    await delivered()
    await cached(1)
    report(false)
    expect(evictions.map((event) => event.reason)).toEqual(['bus-down'])
    await cached(1) // from the shared tier, back into memory for at most `staleness`
    await cached(1)
    expect(cached.cacheInfo().tierHits).toEqual([1, 1])
    vi.advanceTimersByTime(1_001)
    await cached(1)
    expect(cached.cacheInfo().tierHits).toEqual([1, 2])
    report(true)
    vi.advanceTimersByTime(1_001) // the entry written while down has expired: reread, kept now
    await cached(1)
    vi.advanceTimersByTime(60_000)
    await cached(1)
    expect(cached.cacheInfo().tierHits).toEqual([2, 3])
  })

  it('can be turned off', async () => {
    const [a, b] = twoProcesses()
    const source = new Map([[1, 'v1']])
    const first = wrap(a, source)
    const second = dcache({ multiple: [new InMemoryBackend(), b], coherence: false })(async function price(id: number) {
      return source.get(id) ?? 'none'
    })
    await delivered()
    await second(1)
    await first.cached.invalidate(1)
    await delivered()
    expect(await second(1)).toBe('v1')
    expect(second.cacheInfo().tierHits).toEqual([1, 0])
  })
})
