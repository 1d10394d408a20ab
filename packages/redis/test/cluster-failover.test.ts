// A real Redis Cluster (3 masters, 3 replicas) losing a master to SIGKILL.
import { dcache } from '@dcache/core'
import calculateSlot from 'cluster-key-slot'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisBackend } from '../src/index.js'
import { redisUnavailable } from './support/availability.js'
import { RedisCluster } from './support/redis-servers.js'

let cluster: RedisCluster

describe.skipIf(redisUnavailable !== undefined)('RedisBackend on a Cluster that loses a master', () => {
  beforeAll(async () => {
    cluster = await RedisCluster.start()
  }, 60_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  it("fails open on the dead master's slots, keeps caching on the others, and resumes after failover", async () => {
    const backend = new RedisBackend({ nodes: cluster.startupNodes })
    try {
      let runs = 0
      const square = dcache(backend, { timeout: 200 })(async function square(n: number) {
        runs++
        return n * n
      })
      const keys = Array.from({ length: 60 }, (_, n) => n)
      for (const n of keys) await square(n)
      const victim = await cluster.masterOf(calculateSlot(square.key(0)))
      const masters = await Promise.all(keys.map((n) => cluster.masterOf(calculateSlot(square.key(n)))))
      const onVictim = keys.filter((n) => masters[n] === victim)
      const elsewhere = keys.filter((n) => masters[n] !== victim)
      expect(onVictim.length).toBeGreaterThan(0)
      expect(elsewhere.length).toBeGreaterThan(0)

      await victim.kill()
      runs = 0
      const hitsBefore = square.cacheInfo().hits
      // Right away, before a replica can take over (cluster-node-timeout is 1 s): the dead
      // master's keys are computed again, the other masters still answer from the cache.
      const [lost, kept] = await Promise.all([Promise.all(onVictim.map((n) => square(n))), Promise.all(elsewhere.map((n) => square(n)))])
      expect(lost).toEqual(onVictim.map((n) => n * n))
      expect(kept).toEqual(elsewhere.map((n) => n * n))
      expect(runs).toBe(onVictim.length)
      expect(square.cacheInfo().hits - hitsBefore).toBe(elsewhere.length)

      await cluster.waitUntilHealthy()
      const failedOverAt = performance.now()
      let resumed = false
      while (!resumed && performance.now() - failedOverAt < 10_000) {
        runs = 0
        for (const n of onVictim) await square(n)
        resumed = runs === 0
        if (!resumed) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      console.log(`[redis cluster] caching resumed on the failed-over slots ${(performance.now() - failedOverAt).toFixed(0)} ms after the cluster reported ok`)
      expect(resumed).toBe(true)
    } finally {
      await backend.close()
    }
  })
})
