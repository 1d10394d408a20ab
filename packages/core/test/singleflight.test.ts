import { describe, expect, it, vi } from 'vitest'
import { dcache, InMemoryBackend } from '../src/index.js'
import { remoteTier } from './helpers.js'

/** A function whose every run waits for `release()`. */
function gated<T>(value: T) {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const fn = vi.fn(async (_key: string) => {
    await gate
    return value
  })
  return { fn, release: () => release() }
}

describe.each([
  ['memory only', () => [new InMemoryBackend()]],
  ['memory + remote', () => [new InMemoryBackend(), remoteTier()]],
  ['remote only', () => [remoteTier()]],
])('single-flight (%s)', (_label, tiers) => {
  it('shares one execution between 1 000 concurrent cold calls', async () => {
    const { fn, release } = gated({ answer: 42 })
    const cached = dcache({ multiple: tiers() })(fn, { name: 'cold' })
    const calls = Array.from({ length: 1_000 }, () => cached('k'))
    release()
    const results = await Promise.all(calls)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(new Set(results).size).toBe(1)
    expect(cached.cacheInfo().misses).toBe(1)
  })

  it('delivers the function’s error to every waiter, caches nothing, and runs again next time', async () => {
    let fail = true
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const fn = vi.fn(async (_key: string) => {
      await gate
      if (fail) throw new Error('upstream down')
      return 'ok'
    })
    const cached = dcache({ multiple: tiers() })(fn, { name: 'failing' })
    const calls = Array.from({ length: 100 }, () => cached('k'))
    release()
    const settled = await Promise.allSettled(calls)
    expect(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'upstream down')).toBe(true)
    expect(fn).toHaveBeenCalledTimes(1)
    fail = false
    expect(await cached('k')).toBe('ok')
    expect(fn).toHaveBeenCalledTimes(2)
  })

  it('keeps different keys independent', async () => {
    const fn = vi.fn(async (key: string) => key.toUpperCase())
    const cached = dcache({ multiple: tiers() })(fn, { name: 'independent' })
    expect(await Promise.all([cached('a'), cached('b'), cached('a')])).toEqual(['A', 'B', 'A'])
    expect(fn).toHaveBeenCalledTimes(2)
  })
})
