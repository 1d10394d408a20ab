import diagnostics from 'node:diagnostics_channel'
import { describe, expect, it, vi } from 'vitest'
import { canonicalArgs, dcache, DcacheError, digest, DIAGNOSTICS_CHANNELS, InMemoryBackend, type CacheBackend } from '../src/index.js'
import { remoteTier } from './helpers.js'

describe('dcache(fn): in memory, like lru_cache', () => {
  it('keeps a sync function sync and memoises recursive calls', () => {
    let calls = 0
    const fib: (n: number) => number = dcache((n: number): number => {
      calls++
      return n < 2 ? n : fib(n - 1) + fib(n - 2)
    })
    expect(fib(90)).toBe(2880067194370816000)
    expect(calls).toBe(91)
    expect(fib(90)).toBe(2880067194370816000)
    expect(calls).toBe(91)
  })

  it('memoises deep recursion quickly (fib(1000) runs each n once)', () => {
    const fib: (n: number) => bigint = dcache((n: number): bigint => (n < 2 ? BigInt(n) : fib(n - 1) + fib(n - 2)))
    for (let n = 0; n <= 1000; n += 100) fib(n) // climb gradually: no deep stack
    expect(fib(1000) % 1_000_000n).toBe(228875n)
  })

  it('returns a promise for an async function, and caches the settled value', async () => {
    const load = vi.fn(async (id: string) => ({ id }))
    const cached = dcache(load)
    const first = await cached('a')
    const second = await cached('a')
    expect(second).toBe(first) // the same object, as lru_cache returns
    expect(load).toHaveBeenCalledTimes(1)
  })

  it('caches falsy results: 0, empty string, false, null and undefined are values', () => {
    for (const value of [0, '', false, null, undefined]) {
      const fn = vi.fn(() => value)
      const cached = dcache(fn)
      expect(cached()).toBe(value)
      expect(cached()).toBe(value)
      expect(fn).toHaveBeenCalledTimes(1)
    }
  })

  it('keys calls by all their arguments', () => {
    const fn = vi.fn((a: unknown, b?: unknown) => [a, b])
    const cached = dcache(fn)
    cached(1, 23)
    cached(12, 3)
    cached(1, 23)
    cached({ a: 1, b: 2 })
    cached({ b: 2, a: 1 })
    expect(fn).toHaveBeenCalledTimes(3)
  })

  it('keeps a lone number argument apart from -0, from strings and from longer argument lists', () => {
    const seen = vi.fn((...args: unknown[]) => args.map(String).join(','))
    const cached = dcache(seen, { name: 'seen' })
    const calls: unknown[][] = [[1], ['1'], [0], [-0], [NaN], [1, undefined], [1n]]
    for (const args of calls) cached(...args)
    for (const args of calls) cached(...args)
    expect(seen).toHaveBeenCalledTimes(calls.length)
    expect(cached.cacheInfo()).toMatchObject({ hits: calls.length, misses: calls.length, size: calls.length })
    // The number fast path changes the memory key only: the shared key is the canonical one.
    expect(cached.key(1)).toBe(`dcache:default:seen:1:${digest(canonicalArgs([1]))}`)
    cached.invalidate(1)
    cached(1)
    expect(seen).toHaveBeenCalledTimes(calls.length + 1)
  })

  it('still counts and reports hits of a lone number argument (the allocation-free path)', () => {
    const square = dcache((n: number) => n * n, { name: 'square' })
    square(3)
    square(3)
    expect(square.cacheInfo()).toMatchObject({ hits: 1, misses: 1, tierHits: [1] })
    const seen: string[] = []
    const stop = square.on('hit', ({ key }) => seen.push(key))
    square(3)
    stop()
    const published: unknown[] = []
    const onPublish = (message: unknown) => published.push(message)
    diagnostics.subscribe(DIAGNOSTICS_CHANNELS.hit, onPublish)
    square(3)
    diagnostics.unsubscribe(DIAGNOSTICS_CHANNELS.hit, onPublish)
    square(3)
    expect(seen).toEqual([square.key(3)])
    expect(published).toHaveLength(1)
    expect(square.cacheInfo()).toMatchObject({ hits: 4, misses: 1 })
  })

  it('stores, counts and reports misses of a lone number argument (the short miss path)', async () => {
    const square = dcache((n: number) => n * n, { name: 'square', ttl: 1_000 })
    expect([square(2), square(2), square(3)]).toEqual([4, 4, 9])
    expect(square.cacheInfo()).toMatchObject({ hits: 1, misses: 2, size: 2 })
    const events: string[] = []
    const stopMiss = square.on('miss', ({ key }) => events.push(`miss ${key}`))
    const stopSet = square.on('set', ({ key }) => events.push(`set ${key}`))
    square(4)
    stopMiss()
    stopSet()
    square(5)
    expect(events).toEqual([`miss ${square.key(4)}`, `set ${square.key(4)}`])
    expect(square.cacheInfo()).toMatchObject({ misses: 4, size: 4 })
    // An async function on the same path: concurrent callers share one run.
    let runs = 0
    const slow = dcache(async (n: number) => (runs++, n + 1), { name: 'slow' })
    expect(await Promise.all([slow(1), slow(1), slow(1)])).toEqual([2, 2, 2])
    expect(await slow(1)).toBe(2)
    expect(runs).toBe(1)
  })

  it('does not cache a thrown error, and runs again next time', () => {
    let fail = true
    const cached = dcache((n: number) => {
      if (fail) throw new Error('boom')
      return n
    })
    expect(() => cached(1)).toThrow('boom')
    fail = false
    expect(cached(1)).toBe(1)
  })

  it('throws a TypeError naming the argument path for an unkeyable argument', () => {
    const cached = dcache((o: unknown) => o)
    expect(() => cached({ user: { onClick: () => 1 } })).toThrow(TypeError)
    expect(() => cached({ user: { onClick: () => 1 } })).toThrow(/args\[0\]\.user\.onClick/)
    try {
      cached(Symbol('x'))
    } catch (error) {
      expect(DcacheError.is(error, 'E_UNKEYABLE_ARGUMENT')).toBe(true)
    }
  })

  it('expires entries after ttl (fake clock)', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const fn = vi.fn((n: number) => n * 2)
      const cached = dcache(fn, { ttl: 1_000 })
      cached(1)
      vi.advanceTimersByTime(999)
      cached(1)
      expect(fn).toHaveBeenCalledTimes(1)
      vi.advanceTimersByTime(1)
      cached(1)
      expect(fn).toHaveBeenCalledTimes(2)
    } finally {
      vi.useRealTimers()
    }
  })

  it('keeps the function name and exposes the original', () => {
    function square(n: number) {
      return n * n
    }
    const cached = dcache(square)
    expect(cached.name).toBe('square')
    expect(cached.original).toBe(square)
  })
})

describe('cacheInfo, invalidate, cacheClear, key', () => {
  it('counts hits, misses, per-tier hits and size like cache_info()', () => {
    const cached = dcache((n: number) => n, { backend: new InMemoryBackend({ maxSize: 2 }) })
    cached(1)
    cached(1)
    cached(2)
    cached(3) // evicts 1
    cached(1)
    expect(cached.cacheInfo()).toEqual({
      hits: 1,
      misses: 4,
      tierHits: [1],
      staleHits: 0,
      errors: 0,
      integrityFailures: 0,
      notCacheable: 0,
      size: 2,
      maxSize: 2,
    })
  })

  it('invalidate(...args) removes one entry; cacheClear() removes all of this function only', () => {
    const memory = new InMemoryBackend()
    const cache = dcache(memory)
    const f = vi.fn((n: number) => n)
    const g = vi.fn((n: number) => n)
    const cf = cache(f, { name: 'f' })
    const cg = cache(g, { name: 'g' })
    cf(1)
    cf(2)
    cg(1)
    cf.invalidate(1)
    cf(1)
    cf(2)
    expect(f).toHaveBeenCalledTimes(3)
    cf.cacheClear()
    expect(cf.cacheInfo().size).toBe(0)
    cf(2)
    cg(1)
    expect(f).toHaveBeenCalledTimes(4)
    expect(g).toHaveBeenCalledTimes(1)
  })

  it('key() is dcache:<namespace>:<name>:<version>:<digest>, stable and distinct', () => {
    const cached = dcache(function loadUser(id: number) {
      return id
    })
    expect(cached.key(1)).toMatch(/^dcache:default:loadUser:1:[A-Za-z0-9_-]{43}$/)
    expect(cached.key(1)).toBe(cached.key(1))
    expect(cached.key(1)).not.toBe(cached.key(2))
    const v2 = dcache(function loadUser(id: number) {
      return id
    }, { version: 2, namespace: 'billing' })
    expect(v2.key(1)).toMatch(/^dcache:billing:loadUser:2:/)
  })

  it('percent-encodes names, so a colon cannot forge another identity', () => {
    const a = dcache((n: number) => n, { name: 'a:1' })
    const b = dcache((n: number) => n, { name: 'a', version: '1:1' })
    expect(a.key(1)).not.toBe(b.key(1))
    expect(a.key(1)).toMatch(/^dcache:default:a%3A1:1:/)
  })

  it('uses a custom key function, called with the same this', async () => {
    const fn = vi.fn(async (user: { id: number; loadedAt: number }) => user.id)
    const cached = dcache(fn, { key: (user: { id: number }) => user.id })
    await cached({ id: 1, loadedAt: 1 })
    await cached({ id: 1, loadedAt: 2 })
    expect(fn).toHaveBeenCalledTimes(1)
  })
})

describe('misuse is a clear, typed error', () => {
  it('refuses an anonymous function on a tier shared between processes', () => {
    const cache = dcache(remoteTier())
    expect(() => cache((n: number) => n)).toThrow(TypeError)
    expect(() => cache((n: number) => n)).toThrow(/pass a name/i)
    try {
      cache(async (n: number) => n)
    } catch (error) {
      expect(DcacheError.is(error, 'E_ANONYMOUS_FUNCTION')).toBe(true)
    }
    expect(() => cache(async (n: number) => n, { name: 'double' })).not.toThrow()
  })

  it('keeps anonymous functions apart in a shared memory tier', () => {
    const cache = dcache(new InMemoryBackend())
    const one = cache(() => 1)
    const two = cache(() => 2)
    expect(one()).toBe(1)
    expect(two()).toBe(2)
  })

  it('refuses a backend with an unknown contract version', () => {
    const future = { ...remoteTier(), contract: 2 } as unknown as CacheBackend
    expect(() => dcache(future)).toThrow(/contract 2/)
    try {
      dcache(future)
    } catch (error) {
      expect(DcacheError.is(error, 'E_CONTRACT_VERSION')).toBe(true)
    }
  })

  it.each([
    [{ ttl: -1 }, /ttl/],
    [{ ttl: Number.NaN }, /ttl/],
    [{ timeout: 0 }, /timeout/],
    [{ ttL: 5 }, /unknown dcache option `ttL`/],
    [{ multiple: [] }, /non-empty/],
    [{ backend: new InMemoryBackend(), multiple: [new InMemoryBackend()] }, /either/],
    [{ version: {} }, /version/],
  ])('rejects bad options %o', (options, message) => {
    expect(() => dcache((n: number) => n, options as never)).toThrow(message)
  })

  it('rejects bad InMemoryBackend options', () => {
    expect(() => new InMemoryBackend({ maxSize: 0 })).toThrow(/maxSize/)
    expect(() => new InMemoryBackend({ maxSize: 1.5 })).toThrow(/maxSize/)
    expect(() => new InMemoryBackend({ ttl: -5 })).toThrow(/ttl/)
  })

  it('rejects something that is neither a function, a backend nor options', () => {
    expect(() => dcache(42 as never)).toThrow(/got number/)
  })
})
