import { afterEach, describe, expect, it, vi } from 'vitest'
import { encodeValue, InMemoryBackend } from '../src/index.js'

afterEach(() => {
  vi.useRealTimers()
})

const bytes = (...values: number[]) => new Uint8Array(values)

describe('InMemoryBackend: a bounded LRU', () => {
  it('is bounded by default (10 000 entries)', () => {
    const memory = new InMemoryBackend()
    expect(memory.maxSize).toBe(10_000)
    for (let i = 0; i < 10_050; i++) memory.space('').set(`k${i}`, i, null, false)
    expect(memory.size).toBe(10_000)
    expect(memory.space('').get('k0')).toBeUndefined()
    expect(memory.space('').get('k10049')?.value).toBe(10_049)
  })

  it('evicts the least recently used entry, where a read counts as a use', () => {
    const memory = new InMemoryBackend({ maxSize: 3 })
    for (const key of ['a', 'b', 'c']) memory.space('').set(key, key, null, false)
    memory.space('').get('a')
    memory.space('').set('d', 'd', null, false)
    expect([...memory.keys()]).toEqual(['d', 'a', 'c'])
    memory.space('').set('c', 'c2', null, false) // overwrite moves to the front
    memory.space('').set('e', 'e', null, false)
    expect([...memory.keys()]).toEqual(['e', 'c', 'd'])
  })

  it('moves a full LRU forward without mixing up entries or their counts across spaces', () => {
    const memory = new InMemoryBackend({ maxSize: 3 })
    const [a, b] = [memory.space('a:'), memory.space('b:')]
    const [countA, countB] = [{ size: 0 }, { size: 0 }]
    for (let i = 0; i < 3; i++) a.set(i, `a${i}`, null, i === 2, countA)
    for (let i = 0; i < 50; i++) b.set(i, `b${i}`, i === 49 ? Date.now() + 60_000 : null, false, countB)
    expect(countA.size).toBe(0)
    expect(countB.size).toBe(3)
    expect(memory.size).toBe(3)
    for (let i = 0; i < 3; i++) expect(a.get(i)).toBeUndefined()
    expect([47, 48, 49].map((i) => b.get(i)?.value)).toEqual(['b47', 'b48', 'b49'])
    expect(b.get(49)).toMatchObject({ async: false, promise: undefined })
    expect(b.get(49)?.expiresAt).toBeLessThan(Infinity)
    expect(b.get(48)?.expiresAt).toBe(Infinity)
    expect(b.get(46)).toBeUndefined()
    expect(b.delete(47)).toBe(true)
    expect(countB.size).toBe(2)
    a.set('x', 'ax', null, true, countA)
    expect(a.get('x')?.async).toBe(true)
    expect(a.get('x')?.promise).toBeInstanceOf(Promise)
  })

  it('peekEntry neither refreshes recency nor removes', () => {
    const memory = new InMemoryBackend({ maxSize: 2 })
    memory.space('').set('a', 1, null, false)
    memory.space('').set('b', 2, null, false)
    memory.space('').peek('a')
    memory.space('').set('c', 3, null, false)
    expect(memory.space('').peek('a')).toBeUndefined()
  })

  it('bounds total bytes with maxBytes, sizing live values with sizeOf', () => {
    const memory = new InMemoryBackend({ maxBytes: 100, sizeOf: (value) => encodeValue(value).byteLength })
    memory.space('').set('a', 'x'.repeat(40), null, false)
    memory.space('').set('b', 'y'.repeat(40), null, false)
    memory.space('').set('c', 'z'.repeat(40), null, false)
    expect(memory.bytes).toBeLessThanOrEqual(100)
    expect(memory.space('').get('a')).toBeUndefined()
    memory.space('').set('huge', 'h'.repeat(500), null, false)
    expect(memory.space('').get('huge')).toBeUndefined()
    expect(memory.space('').get('c')).toBeDefined()
  })

  it('counts bytes of byte entries for maxBytes', async () => {
    const memory = new InMemoryBackend({ maxBytes: 4 })
    await memory.set({ key: 'a', value: bytes(1, 2), expiresAt: null })
    await memory.set({ key: 'b', value: bytes(3, 4), expiresAt: null })
    await memory.set({ key: 'c', value: bytes(5), expiresAt: null })
    expect(await memory.get('a')).toBeUndefined()
    expect(memory.bytes).toBe(3)
  })

  it('caps every lifetime with ttl, and expires on read', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const memory = new InMemoryBackend({ ttl: 1_000 })
    memory.space('').set('forever', 1, null, false)
    memory.space('').set('short', 2, Date.now() + 10, false)
    expect(memory.space('').peek('forever')?.expiresAt).toBe(Date.now() + 1_000)
    vi.advanceTimersByTime(10)
    expect(memory.space('').get('short')).toBeUndefined()
    expect(memory.size).toBe(1)
    vi.advanceTimersByTime(990)
    expect(memory.space('').get('forever')).toBeUndefined()
  })

  it('prune() removes expired entries and reports how many', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const memory = new InMemoryBackend()
    memory.space('').set('a', 1, Date.now() + 5, false)
    memory.space('').set('b', 2, null, false)
    vi.advanceTimersByTime(5)
    expect(await memory.prune()).toBe(1)
    expect([...memory.keys()]).toEqual(['b'])
  })

  it('gives each prefix its own space, sharing one LRU order and limit', () => {
    const memory = new InMemoryBackend({ maxSize: 2 })
    const f = memory.space('dcache:default:f:1:')
    const g = memory.space('dcache:default:g:1:')
    expect(memory.space('dcache:default:f:1:')).toBe(f)
    f.set('n1;', 'f1', null, false)
    g.set('n1;', 'g1', null, false)
    expect(g.peek('n1;')?.value).toBe('g1')
    expect(f.get('n1;')?.value).toBe('f1') // now g's entry is the least recently used
    f.set('n2;', 'f2', null, false)
    expect(g.get('n1;')).toBeUndefined()
    expect([...memory.keys()]).toEqual(['dcache:default:f:1:n2;', 'dcache:default:f:1:n1;'])
    expect(f.clear()).toBe(2)
    expect(memory.size).toBe(0)
  })

  it('deletePrefix removes live and byte entries by full key', async () => {
    const memory = new InMemoryBackend()
    memory.space('app:f:').set('a', 1, null, false)
    memory.space('app:g:').set('a', 1, null, false)
    await memory.set({ key: 'app:f:bytes', value: bytes(1), expiresAt: null })
    await memory.set({ key: 'other', value: bytes(1), expiresAt: null })
    expect(memory.deletePrefix('app:f:')).toBe(2)
    expect([...memory.keys()].sort()).toEqual(['app:g:a', 'other'])
  })

  it('keeps live values and bytes apart', async () => {
    const memory = new InMemoryBackend()
    memory.space('').set('live', { a: 1 }, null, false)
    await memory.set({ key: 'bytes', value: bytes(1), expiresAt: null })
    expect(await memory.get('live')).toBeUndefined()
    expect(memory.space('').get('bytes')).toBeUndefined()
  })

  it('returns the same object on every hit (as lru_cache does)', () => {
    const memory = new InMemoryBackend()
    const value = { big: true }
    memory.space('').set('k', value, null, false)
    expect(memory.space('').get('k')?.value).toBe(value)
  })

  it('reuses one settled promise for async entries', async () => {
    const memory = new InMemoryBackend()
    memory.space('').set('k', 42, null, true)
    const first = memory.space('').get('k')?.promise
    expect(first).toBe(memory.space('').get('k')?.promise)
    expect(await first).toBe(42)
  })

  it('keeps per-owner counts through eviction, delete and clear', async () => {
    const memory = new InMemoryBackend({ maxSize: 2 })
    const owner = { size: 0 }
    memory.space('').set('a', 1, null, false, owner)
    memory.space('').set('b', 2, null, false, owner)
    memory.space('').set('c', 3, null, false, owner)
    expect(owner.size).toBe(2)
    memory.space('').delete('b')
    expect(owner.size).toBe(1)
    await memory.clear()
    expect(owner.size).toBe(0)
  })
})
