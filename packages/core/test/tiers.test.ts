import { afterEach, describe, expect, it, vi } from 'vitest'
import { dcache, InMemoryBackend, openEnvelope, type DcacheEvent } from '../src/index.js'
import { remoteTier } from './helpers.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('tiers: the read-through chain', () => {
  it('runs the function once on a miss everywhere and writes every tier', async () => {
    const [a, b, c] = [new InMemoryBackend(), remoteTier('b'), remoteTier('c')]
    const fn = vi.fn(async (n: number) => ({ n }))
    const cached = dcache({ multiple: [a, b, c] })(fn, { name: 'fn' })
    expect(await cached(1)).toEqual({ n: 1 })
    expect(fn).toHaveBeenCalledTimes(1)
    expect(a.size).toBe(1)
    expect(b.store.size).toBe(1)
    expect(c.store.size).toBe(1)
  })

  it('stops at the first hit and backfills the tiers above it', async () => {
    const [a, b, c] = [new InMemoryBackend(), remoteTier('b'), remoteTier('c')]
    const fn = vi.fn(async (n: number) => n * 10)
    const seed = dcache({ multiple: [c] })(fn, { name: 'fn' })
    await seed(1) // only C has it
    const cached = dcache({ multiple: [a, b, c] })(fn, { name: 'fn' })
    const getB = vi.spyOn(b, 'get')
    const getC = vi.spyOn(c, 'get')
    expect(await cached(1)).toBe(10)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(cached.cacheInfo().tierHits).toEqual([0, 0, 1])
    expect(a.size).toBe(1)
    expect(b.store.size).toBe(1)
    // next call is answered by the memory tier alone
    expect(await cached(1)).toBe(10)
    expect(cached.cacheInfo().tierHits).toEqual([1, 0, 1])
    expect(getB).toHaveBeenCalledTimes(1)
    expect(getC).toHaveBeenCalledTimes(1)
  })

  it('backfills with the remaining lifetime, never a fresh ttl', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const [a, b] = [new InMemoryBackend(), remoteTier('b')]
    const fn = vi.fn(async (n: number) => n)
    await dcache({ multiple: [b], ttl: 10_000 })(fn, { name: 'fn' })(1)
    vi.advanceTimersByTime(7_000)
    const cached = dcache({ multiple: [a, b], ttl: 10_000 })(fn, { name: 'fn' })
    await cached(1) // hit in b with 3 s left; a gets 3 s, not 10 s
    expect(onlyExpiry(a)).toBe(Date.now() + 3_000)
    vi.advanceTimersByTime(3_000)
    await cached(1)
    expect(fn).toHaveBeenCalledTimes(2)
  })

  it('caps a backfill by the upper tier’s own shorter ttl', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const [a, b] = [new InMemoryBackend(), remoteTier('b')]
    const fn = async (n: number) => n
    await dcache({ multiple: [b], ttl: 60_000 })(fn, { name: 'fn' })(1)
    const cached = dcache({ multiple: [{ backend: a, ttl: 1_000 }, b], ttl: 60_000 })(fn, { name: 'fn' })
    await cached(1)
    expect(onlyExpiry(a)).toBe(Date.now() + 1_000)
  })

  it('caches falsy values in remote tiers too', async () => {
    for (const value of [0, '', false, null, undefined]) {
      const b = remoteTier()
      const fn = vi.fn(async () => value)
      const first = dcache({ multiple: [b] })(fn, { name: 'falsy' })
      await first()
      const second = dcache({ multiple: [b] })(fn, { name: 'falsy' })
      expect(await second()).toBe(value)
      expect(fn).toHaveBeenCalledTimes(1)
    }
  })

  it('returns the same types as the first call from a remote tier (lossless codec)', async () => {
    const b = remoteTier()
    const value = { at: new Date(0), ids: new Set([1n, 2n]), byName: new Map([['a', -0]]), missing: undefined }
    const fn = async () => value
    await dcache({ multiple: [b] })(fn, { name: 'rich' })()
    const fromRemote = await dcache({ multiple: [b] })(async () => null, { name: 'rich' })()
    expect(fromRemote).toEqual(value)
    expect(Object.is((fromRemote as unknown as typeof value).byName.get('a'), -0)).toBe(true)
  })

  it('invalidate and cacheClear reach every tier', async () => {
    const [a, b] = [new InMemoryBackend(), remoteTier('b')]
    const other = dcache({ multiple: [a, b] })(async (n: number) => n, { name: 'other' })
    const cached = dcache({ multiple: [a, b] })(async (n: number) => n, { name: 'fn' })
    await Promise.all([cached(1), cached(2), other(1)])
    expect(b.store.size).toBe(3)
    await cached.invalidate(1)
    expect(a.size).toBe(2)
    expect(b.store.size).toBe(2)
    await cached.cacheClear()
    expect(a.size).toBe(1)
    expect(b.store.size).toBe(1)
  })

  it('stores an envelope that echoes the logical key', async () => {
    const b = remoteTier()
    const cached = dcache({ multiple: [b] })(async (n: number) => n, { name: 'echo' })
    await cached(7)
    const stored = await b.get(cached.key(7))
    expect(stored).toBeDefined()
    const opened = openEnvelope(stored!.value, cached.key(7))
    expect(opened.ok).toBe(true)
  })

  it('signs envelopes with a secret, and refuses unsigned or foreign-signed entries', async () => {
    const b = remoteTier()
    const fn = vi.fn(async (n: number) => n)
    await dcache({ multiple: [b] })(fn, { name: 'signed' })(1)
    const signed = dcache({ multiple: [b], secret: 's3cret' })(fn, { name: 'signed' })
    const events: DcacheEvent[] = []
    signed.on('integrity', (event) => events.push(event))
    expect(await signed(1)).toBe(1)
    expect(fn).toHaveBeenCalledTimes(2) // the unsigned entry was a miss
    expect(events).toHaveLength(1)
    expect(signed.cacheInfo().integrityFailures).toBe(1)
    await dcache({ multiple: [b], secret: 'other' })(fn, { name: 'signed' })(1)
    expect(fn).toHaveBeenCalledTimes(3)
  })

  it('returns a value the codec cannot encode, without caching it, and says why', async () => {
    class User {
      constructor(readonly id: number) {}
    }
    const [a, b] = [new InMemoryBackend(), remoteTier()]
    const fn = vi.fn(async (id: number) => new User(id))
    const cached = dcache({ multiple: [a, b] })(fn, { name: 'user' })
    const reasons: string[] = []
    cached.on('not-cacheable', (event) => reasons.push(event.reason))
    expect(await cached(1)).toBeInstanceOf(User)
    expect(await cached(1)).toBeInstanceOf(User)
    expect(fn).toHaveBeenCalledTimes(2)
    expect(a.size + b.store.size).toBe(0)
    expect(reasons[0]).toMatch(/User/)
    expect(cached.cacheInfo().notCacheable).toBe(2)
  })

  it('does not write a value larger than a tier’s maxValueBytes, and still returns it', async () => {
    const b = remoteTier()
    const small = { ...b, capabilities: { ...b.capabilities, maxValueBytes: 256 } }
    const cached = dcache({ multiple: [small] })(async (n: number) => 'x'.repeat(n), { name: 'big' })
    expect(await cached(1_000)).toHaveLength(1_000)
    expect(b.store.size).toBe(0)
    expect(cached.cacheInfo().notCacheable).toBe(1)
    await cached(10)
    expect(b.store.size).toBe(1)
  })
})

/** The expiry of the only entry of a memory tier. */
function onlyExpiry(memory: InMemoryBackend): number | undefined {
  const [key] = memory.keys()
  if (key === undefined) return undefined
  const prefix = key.slice(0, key.lastIndexOf(':') + 1)
  const suffix = key.slice(prefix.length)
  // A lone number argument is held under the number itself; keys() writes it as `n<number>;`.
  const number = /^n(.+);$/.exec(suffix)?.[1]
  return memory.space(prefix).peek(number === undefined ? suffix : Number(number))?.expiresAt
}
