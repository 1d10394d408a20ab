// The core's per-tick read batching: reads issued in the same tick on a backend that batches
// natively (`capabilities.nativeBatch`) share one getMany, one deadline and one round trip.
import { dcache, type CacheBackend, type ErrorEvent } from '@dcache/core'
import { describe, expect, it } from 'vitest'
import { ChaosBackend, MapBackend } from '../src/index.js'
import { delegating } from './delegating.js'

const KEYS = Array.from({ length: 64 }, (_, i) => i)

function setup(backend: CacheBackend) {
  let runs = 0
  const cached = dcache(backend, { timeout: 1_000 })(async function square(n: number) {
    runs++
    return { n, squared: n * n }
  })
  const errors: ErrorEvent[] = []
  cached.on('error', (event) => errors.push(event))
  return { cached, errors, runs: () => runs }
}

const expected = KEYS.map((n) => ({ n, squared: n * n }))

describe('read batching', () => {
  it('sends the reads of one tick as one getMany, each caller getting its own entry', async () => {
    const chaos = new ChaosBackend(new MapBackend())
    const { cached, runs } = setup(chaos)
    await Promise.all(KEYS.map((n) => cached(n))) // cold: stored
    chaos.resetCalls()
    expect(await Promise.all(KEYS.map((n) => cached(n)))).toEqual(expected)
    expect(chaos.calls.getMany).toBe(1)
    expect(chaos.calls.get).toBe(0)
    expect(runs()).toBe(64)
    expect(cached.cacheInfo().hits).toBe(64)
  })

  it('sends a lone read as a get', async () => {
    const chaos = new ChaosBackend(new MapBackend())
    const { cached } = setup(chaos)
    await cached(3)
    chaos.resetCalls()
    expect(await cached(3)).toEqual({ n: 3, squared: 9 })
    expect(chaos.calls).toMatchObject({ get: 1, getMany: 0 })
  })

  it('gives every caller its value when the batched read fails, with an error event each', async () => {
    const chaos = new ChaosBackend(new MapBackend(), { getMany: 'reject' })
    const { cached, errors, runs } = setup(chaos)
    expect(await Promise.all(KEYS.map((n) => cached(n)))).toEqual(expected)
    expect(runs()).toBe(64)
    expect(errors.map((event) => [event.error.operation, event.key])).toEqual(KEYS.map((n) => ['getMany', cached.key(n)]))
  })

  it('treats a getMany answer of the wrong length as a failure of the batch', async () => {
    const store = new MapBackend()
    const short = delegating(store, { getMany: async (keys) => (await store.getMany(keys)).slice(1) })
    const { cached, errors, runs } = setup(short)
    expect(await Promise.all(KEYS.map((n) => cached(n)))).toEqual(expected)
    expect(await Promise.all(KEYS.map((n) => cached(n)))).toEqual(expected)
    expect(runs()).toBe(128)
    expect(await short.get(cached.key(5))).toBeDefined() // the values were stored: only the batched read failed
    expect(errors).toHaveLength(128) // both rounds: 64 reads each
    expect(errors[0]?.error.message).toMatch(/getMany returned 63 entries for 64 keys/)
  })

  it('reads key by key on a backend without native batching', async () => {
    const store = new MapBackend()
    const chaos = new ChaosBackend(delegating(store, { capabilities: { ...store.capabilities, nativeBatch: false } }))
    const { cached } = setup(chaos)
    await Promise.all(KEYS.map((n) => cached(n)))
    chaos.resetCalls()
    expect(await Promise.all(KEYS.map((n) => cached(n)))).toEqual(expected)
    expect(chaos.calls).toMatchObject({ get: 64, getMany: 0 })
  })
})
