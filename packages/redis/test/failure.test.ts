// A real redis-server that the tests kill, freeze and restart while dcache is under load.
import { dcache, InMemoryBackend, type CachedFunction, type EvictEvent } from '@dcache/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { RedisBackend } from '../src/index.js'
import { redisUnavailable } from './support/availability.js'
import { RedisServer } from './support/redis-servers.js'

const TIMEOUT = 100
let server: RedisServer
let backend: RedisBackend
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)

interface Load {
  readonly wrong: number
  readonly calls: number
  readonly slowestMs: number
}

/** `callers` loops calling `square(i)` with rotating keys until `stop` resolves. */
async function load(square: CachedFunction<(n: number) => Promise<number>>, callers: number, stop: Promise<void>): Promise<Load> {
  let running = true
  void stop.then(() => (running = false))
  let wrong = 0
  let calls = 0
  let slowestMs = 0
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      for (let i = caller; running; i += callers) {
        const n = i % 200
        const start = performance.now()
        if ((await square(n)) !== n * n) wrong++
        slowestMs = Math.max(slowestMs, performance.now() - start)
        calls++
        // While the circuit is open a call settles in microtasks only: let timers and I/O run.
        await new Promise((resolve) => setImmediate(resolve))
      }
    }),
  )
  return { wrong, calls, slowestMs }
}

/** Resolves after the event loop has turned `turns` times under the load. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Calls `cached` on fresh keys until one is answered from Redis; returns the ms it took. */
async function msUntilCaching(cached: CachedFunction<(n: number) => Promise<number>>): Promise<number> {
  const start = performance.now()
  for (let n = 10_000; performance.now() - start < 5_000; n++) {
    await cached(n)
    const hitsBefore = cached.cacheInfo().tierHits[0] ?? 0
    await cached(n)
    if ((cached.cacheInfo().tierHits[0] ?? 0) > hitsBefore) return performance.now() - start
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return Infinity
}

describe.skipIf(redisUnavailable !== undefined)('RedisBackend when Redis fails', () => {
  beforeAll(async () => {
    server = await RedisServer.start()
    process.on('unhandledRejection', onUnhandled)
  })
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled)
    await server?.stop()
  })
  beforeEach(async () => {
    backend = new RedisBackend({ port: server.port, prefix: `failure-${process.pid}:` })
    await backend.clear()
    unhandled.length = 0
  })
  afterEach(async () => {
    await backend.close()
  })

  function squareFunction() {
    let runs = 0
    const square = dcache(backend, { timeout: TIMEOUT })(async function square(n: number) {
      runs++
      return n * n
    })
    return { square, runs: () => runs }
  }

  it('returns every value while Redis is SIGKILLed under load, and caches again within 1 s of restart', async () => {
    const { square } = squareFunction()
    let stop!: () => void
    const stopped = new Promise<void>((resolve) => (stop = resolve))
    const running = load(square, 32, stopped)
    await turns(200)
    await server.kill()
    await turns(300)
    stop()
    const result = await running
    expect(result.wrong).toBe(0)
    expect(result.calls).toBeGreaterThan(1_000)
    // A read and a write, each bounded by the deadline; the rest is slack for a loaded machine.
    expect(result.slowestMs).toBeLessThan(2 * TIMEOUT + 400)
    expect(square.cacheInfo().errors).toBeGreaterThan(0)
    // Commands are never queued while disconnected.
    expect(queued(backend)).toBe(0)

    await server.restart()
    const resumeMs = await msUntilCaching(square)
    console.log(`[redis kill] ${result.calls} calls, 0 wrong, slowest ${result.slowestMs.toFixed(0)} ms; caching again ${resumeMs.toFixed(0)} ms after restart`)
    expect(resumeMs).toBeLessThan(1_000)
    expect(unhandled).toEqual([])
  })

  it('bounds every call by the deadline while Redis is frozen (SIGSTOP), then recovers', async () => {
    const { square, runs } = squareFunction()
    expect(await square(3)).toBe(9)
    server.signal('SIGSTOP')
    try {
      const start = performance.now()
      const values = await Promise.all(Array.from({ length: 50 }, (_, i) => square(i)))
      expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i * i))
      const frozenMs = performance.now() - start
      console.log(`[redis SIGSTOP] 50 concurrent calls answered in ${frozenMs.toFixed(0)} ms (deadline ${TIMEOUT} ms)`)
      expect(frozenMs).toBeLessThan(2 * TIMEOUT + 400)
      expect(runs()).toBe(51) // 3 was cached, but Redis cannot answer: every call computed
    } finally {
      server.signal('SIGCONT')
    }
    expect(await msUntilCaching(square)).toBeLessThan(1_000)
    expect(unhandled).toEqual([])
  })

  it('empties coherent memory tiers when the bus connection drops with Redis', async () => {
    const cachedStamp = dcache({ multiple: [new InMemoryBackend(), backend], timeout: TIMEOUT })(async function stamp(n: number) {
      return n
    })
    expect(await cachedStamp(1)).toBe(1)
    // SUBSCRIBEs on one connection complete in order: once this one is done, dcache's is too.
    const unsubscribe = await backend.bus.subscribe('probe', () => {})
    const busDown = new Promise<EvictEvent>((resolve) => cachedStamp.on('evict', resolve))
    await server.kill()
    try {
      expect(await busDown).toMatchObject({ type: 'evict', name: 'stamp', reason: 'bus-down' })
      expect(await cachedStamp(1)).toBe(1)
      expect(cachedStamp.cacheInfo().misses).toBe(2) // the memory tier was emptied
    } finally {
      await server.restart()
    }
    await unsubscribe()
  })

  it('does not write a value over maxValueBytes, and still returns it', async () => {
    const small = new RedisBackend({ port: server.port, prefix: `failure-${process.pid}:`, maxValueBytes: 1024 })
    try {
      let runs = 0
      const reasons: string[] = []
      const big = dcache(small)(async function big(n: number) {
        runs++
        return 'x'.repeat(n)
      })
      big.on('not-cacheable', ({ reason }) => reasons.push(reason))
      expect(await big(4096)).toHaveLength(4096)
      expect(await big(4096)).toHaveLength(4096)
      expect(runs).toBe(2)
      expect(reasons).toHaveLength(2)
      expect(reasons[0]).toMatch(/maxValueBytes \(1024\)/)
      expect(await big(10)).toHaveLength(10)
      expect(await big(10)).toHaveLength(10)
      expect(runs).toBe(3)
    } finally {
      await small.close()
    }
  })
})

/** Commands ioredis holds for a connection that is not up (its offline queue). */
function queued(redis: RedisBackend): number {
  const client = redis.client as unknown as { offlineQueue?: { length: number } }
  return client.offlineQueue?.length ?? 0
}
