// The core's failure policy, shown with ChaosBackend: a backend that hangs, throws, rejects, is
// slow, flaky or returns damaged bytes never loses the caller's result and never hangs the caller.
import { dcache, DcacheError, InMemoryBackend, type ErrorEvent, type IntegrityEvent } from '@dcache/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ChaosBackend, MapBackend } from '../src/index.js'
import { delegating } from './delegating.js'

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)

beforeEach(() => {
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})

afterEach(() => {
  process.off('unhandledRejection', onUnhandled)
  vi.useRealTimers()
  expect(unhandled).toEqual([])
})

/** A cached function over one chaos tier, with its error events collected. */
function setup(chaos: ChaosBackend, timeout = 50) {
  const fn = vi.fn(async (n: number) => ({ n, doubled: n * 2 }))
  const cached = dcache(chaos, { timeout })(fn, { name: 'compute' })
  const errors: ErrorEvent[] = []
  const integrity: IntegrityEvent[] = []
  cached.on('error', (event) => errors.push(event))
  cached.on('integrity', (event) => integrity.push(event))
  return { fn, cached, errors, integrity }
}

const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length

describe('a backend that never answers', () => {
  it('is a miss at the deadline: the caller gets the value, bounded by `timeout`', async () => {
    vi.useFakeTimers()
    const chaos = new ChaosBackend(new MapBackend(), { get: 'hang', set: 'hang' })
    const { cached, fn, errors } = setup(chaos, 200)
    let settled = false
    const call = cached(21).then((value) => ((settled = true), value))
    await vi.advanceTimersByTimeAsync(199)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1) // the get's deadline: a miss, the function runs
    expect(fn).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(200) // the set's deadline: a skipped write
    expect(await call).toEqual({ n: 21, doubled: 42 })
    expect(errors.map((e) => [e.error.code, e.error.operation, e.backend])).toEqual([
      ['E_TIMEOUT', 'get', 'chaos:map'],
      ['E_TIMEOUT', 'set', 'chaos:map'],
    ])
    expect(cached.cacheInfo().errors).toBe(2)
  })

  it.each([
    ['hangs', { all: 'hang' }],
    ['rejects', { all: 'reject' }],
    ['answers', {}],
  ] as const)('leaves no timer behind once calls settle, when the backend %s', async (_label, faults) => {
    const chaos = new ChaosBackend(new MapBackend(), faults)
    const { cached } = setup(chaos, 'all' in faults ? 20 : 5_000)
    const before = timers()
    await Promise.all([cached(1), cached(2), cached(1)])
    expect(timers()).toBe(before)
  })

  it('shares one execution between concurrent callers while the backend hangs', async () => {
    const chaos = new ChaosBackend(new MapBackend(), { all: 'hang' })
    const { cached, fn } = setup(chaos, 30)
    const results = await Promise.all(Array.from({ length: 200 }, () => cached(5)))
    expect(fn).toHaveBeenCalledTimes(1)
    expect(results.every((r) => r.doubled === 10)).toBe(true)
  })

  it('still serves the memory tier above it without touching it', async () => {
    const chaos = new ChaosBackend(new MapBackend(), { all: 'hang' })
    const cached = dcache({ multiple: [new InMemoryBackend(), chaos], timeout: 20 })(async (n: number) => n + 1, { name: 'inc' })
    expect(await cached(1)).toBe(2)
    chaos.resetCalls()
    expect(await cached(1)).toBe(2)
    expect(chaos.calls.get).toBe(0)
  })
})

describe.each([
  ['throws synchronously', 'throw'],
  ['rejects', 'reject'],
] as const)('a backend that %s', (_label, fault) => {
  it('is a miss on read and a skipped write, reported, never thrown', async () => {
    const chaos = new ChaosBackend(new MapBackend(), { all: fault })
    const { cached, fn, errors } = setup(chaos)
    expect(await cached(4)).toEqual({ n: 4, doubled: 8 })
    expect(await cached(4)).toEqual({ n: 4, doubled: 8 })
    expect(fn).toHaveBeenCalledTimes(2)
    expect(errors.map((e) => e.error.operation)).toEqual(['get', 'set', 'get', 'set'])
    expect(errors.every((e) => DcacheError.is(e.error, 'E_BACKEND'))).toBe(true)
    expect(errors[0]!.error.message).toMatch(/^\[dcache:chaos:map\] get failed: /)
  })

  it('reaches invalidate and cacheClear without throwing', async () => {
    const chaos = new ChaosBackend(new MapBackend(), { all: fault })
    const { cached, errors } = setup(chaos)
    await expect(cached.invalidate(1)).resolves.toBeUndefined()
    await expect(cached.cacheClear()).resolves.toBeUndefined()
    expect(errors.map((e) => e.error.operation)).toEqual(['delete', 'clear'])
  })
})

describe('a slow backend', () => {
  it('is used when it answers within the deadline', async () => {
    const chaos = new ChaosBackend(new MapBackend(), { all: { slow: 5 } })
    const { cached, fn } = setup(chaos, 1_000)
    await cached(3)
    await cached(3)
    expect(fn).toHaveBeenCalledTimes(1)
  })

  it('is a miss when it answers after the deadline, and its late answer is ignored', async () => {
    vi.useFakeTimers()
    const chaos = new ChaosBackend(new MapBackend(), { get: { slow: 500 } })
    const { cached, fn, errors } = setup(chaos, 100)
    await setup(new ChaosBackend(chaos.inner)).cached(3) // seed the store through a healthy path
    const call = cached(3)
    await vi.advanceTimersByTimeAsync(100)
    expect(await call).toEqual({ n: 3, doubled: 6 })
    expect(fn).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(500) // the late answer arrives: nothing happens
    expect(errors.map((e) => e.error.code)).toEqual(['E_TIMEOUT'])
  })
})

describe('deadlines of overlapping reads', () => {
  it('times out each read at its own deadline, whichever answered in between', async () => {
    vi.useFakeTimers()
    const store = new MapBackend()
    const answers = new Map<string, () => void>()
    // Reads wait until the test answers them, one key at a time.
    const held = delegating(store, {
      get: (key, options) => new Promise((resolve) => answers.set(key, () => resolve(store.get(key, options)))),
    })
    const { cached, fn, errors } = setup(new ChaosBackend(held), 100)
    await setup(new ChaosBackend(store)).cached(1)
    await setup(new ChaosBackend(store)).cached(2)
    await setup(new ChaosBackend(store)).cached(3)
    const before = timers()
    const started: Promise<unknown>[] = []
    const settledAt: Record<number, number> = {}
    const start = (n: number) =>
      started.push(cached(n).then((value) => ((settledAt[n] = Date.now() - t0), value)))
    const t0 = Date.now()
    start(1) // deadline 100
    await vi.advanceTimersByTimeAsync(30)
    start(2) // deadline 130
    await vi.advanceTimersByTimeAsync(30)
    start(3) // deadline 160
    await vi.advanceTimersByTimeAsync(10)
    answers.get(cached.key(2))!() // t = 70: the middle one answers first; the others never do
    await vi.advanceTimersByTimeAsync(200)
    expect(await Promise.all(started)).toEqual([1, 2, 3].map((n) => ({ n, doubled: n * 2 })))
    expect(settledAt).toEqual({ 1: 100, 2: 70, 3: 160 })
    expect(fn).toHaveBeenCalledTimes(2) // the reads that timed out recomputed
    expect(errors.map((e) => [e.error.code, e.key])).toEqual([
      ['E_TIMEOUT', cached.key(1)],
      ['E_TIMEOUT', cached.key(3)],
    ])
    expect(timers()).toBe(before)
    // After the queue drained, a new read gets a fresh deadline and its answer is used.
    const late = cached(2)
    await vi.advanceTimersByTimeAsync(99)
    answers.get(cached.key(2))!()
    await vi.advanceTimersByTimeAsync(1)
    expect(await late).toEqual({ n: 2, doubled: 4 })
    expect(errors).toHaveLength(2)
    expect(fn).toHaveBeenCalledTimes(2)
  })
})

describe('a flaky backend', () => {
  it('never changes a result: 500 calls at 50% failure give every caller the right value', async () => {
    const chaos = new ChaosBackend(new MapBackend(), { all: { flaky: 0.5, seed: 7 } })
    const { cached } = setup(chaos)
    const inputs = Array.from({ length: 500 }, (_, i) => i % 50)
    const results = await Promise.all(inputs.map((n) => cached(n)))
    expect(results.map((r) => r.doubled)).toEqual(inputs.map((n) => n * 2))
    expect(cached.cacheInfo().errors).toBeGreaterThan(0)
  })
})

describe('damaged bytes', () => {
  it.each(['corrupt', 'truncate'] as const)('a %s entry is a miss and an integrity event, never a wrong value', async (fault) => {
    const chaos = new ChaosBackend(new MapBackend())
    const { cached, fn, integrity } = setup(chaos)
    await cached(9)
    chaos.setFaults({ get: fault })
    expect(await cached(9)).toEqual({ n: 9, doubled: 18 })
    expect(fn).toHaveBeenCalledTimes(2)
    expect(integrity).toHaveLength(1)
    expect(integrity[0]).toMatchObject({ type: 'integrity', backend: 'chaos:map', tier: 0 })
    expect(cached.cacheInfo().integrityFailures).toBe(1)
  })

  it('an entry swapped in from another key is a miss (the envelope echoes its key)', async () => {
    const store = new MapBackend()
    const { cached, fn, integrity } = setup(new ChaosBackend(store))
    await cached(1)
    const stored = await store.get(cached.key(1))
    await store.set({ key: cached.key(2), value: stored!.value, expiresAt: null })
    expect(await cached(2)).toEqual({ n: 2, doubled: 4 })
    expect(fn).toHaveBeenCalledTimes(2)
    expect(integrity[0]?.reason).toMatch(/key/)
  })

  it('a backend that returns something other than bytes is a miss and an error', async () => {
    const store = new MapBackend()
    const broken = Object.assign(Object.create(store) as MapBackend, {
      get: async () => ({ value: 'not bytes', expiresAt: null }),
    })
    const { cached, errors } = setup(new ChaosBackend(broken))
    expect(await cached(1)).toEqual({ n: 1, doubled: 2 })
    expect(errors[0]?.error.message).toMatch(/not a Uint8Array/)
  })
})

describe('the circuit breaker', () => {
  it('skips a backend after 5 consecutive failures, then probes it once after 500 ms', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const chaos = new ChaosBackend(new MapBackend(), { get: 'reject', set: 'reject' })
    const { cached } = setup(chaos)
    for (let i = 0; i < 3; i++) await cached(i) // 3 gets + 3 sets = 6 failures: open
    chaos.resetCalls()
    await cached(10)
    expect(chaos.calls.get + chaos.calls.set).toBe(0)
    chaos.heal()
    vi.advanceTimersByTime(499)
    await cached(10)
    expect(chaos.calls.get + chaos.calls.set).toBe(0)
    vi.advanceTimersByTime(1)
    await cached(11) // the probe (a get) succeeds and closes the circuit; the set goes through
    expect(chaos.calls.get).toBe(1)
    expect(chaos.calls.set).toBe(1)
    await cached(11)
    expect(cached.cacheInfo().hits).toBe(1)
  })
})
