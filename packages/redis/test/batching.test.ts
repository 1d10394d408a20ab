// Reads issued in the same tick travel as one MGET per slot: counted with Redis's own
// INFO commandstats on a private server and a private Cluster.
import { dcache } from '@dcache/core'
import calculateSlot from 'cluster-key-slot'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisBackend } from '../src/index.js'
import { redisUnavailable } from './support/availability.js'
import { RedisCluster, RedisServer } from './support/redis-servers.js'

/** Calls of `command` on the server at `port` since the last CONFIG RESETSTAT. */
async function calls(port: number, command: string): Promise<number> {
  const admin = new Redis({ port })
  try {
    const stats = await admin.info('commandstats')
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  } finally {
    admin.disconnect()
  }
}

async function resetStats(ports: readonly number[]): Promise<void> {
  await Promise.all(
    ports.map(async (port) => {
      const admin = new Redis({ port })
      await admin.config('RESETSTAT')
      admin.disconnect()
    }),
  )
}

let server: RedisServer
let cluster: RedisCluster

describe.skipIf(redisUnavailable !== undefined)('batching reads', () => {
  beforeAll(async () => {
    ;[server, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start()])
  }, 60_000)
  afterAll(async () => {
    await Promise.all([server?.stop(), cluster?.stop()])
  })

  it('sends 64 concurrent cached calls as one MGET', async () => {
    const backend = new RedisBackend({ port: server.port })
    try {
      const double = dcache(backend)(async function double(n: number) {
        return n * 2
      })
      await Promise.all(Array.from({ length: 64 }, (_, n) => double(n)))
      await resetStats([server.port])
      const values = await Promise.all(Array.from({ length: 64 }, (_, n) => double(n)))
      expect(values).toEqual(Array.from({ length: 64 }, (_, n) => n * 2))
      expect(double.cacheInfo().hits).toBe(64)
      expect(await calls(server.port, 'mget')).toBe(1)
      expect(await calls(server.port, 'get')).toBe(0)
    } finally {
      await backend.close()
    }
  })

  it('groups a batch by slot on a Cluster: one MGET per slot, no CROSSSLOT error', async () => {
    const backend = new RedisBackend({ nodes: cluster.startupNodes })
    try {
      const double = dcache(backend)(async function double(n: number) {
        return n * 2
      })
      const errors: unknown[] = []
      double.on('error', ({ error }) => errors.push(error))
      await Promise.all(Array.from({ length: 64 }, (_, n) => double(n)))
      await resetStats(cluster.nodes.map((node) => node.port))
      const values = await Promise.all(Array.from({ length: 64 }, (_, n) => double(n)))
      expect(values).toEqual(Array.from({ length: 64 }, (_, n) => n * 2))
      expect(double.cacheInfo().hits).toBe(64)
      expect(errors).toEqual([])
      const slots = new Set(Array.from({ length: 64 }, (_, n) => calculateSlot(double.key(n))))
      const perNode = await Promise.all(cluster.nodes.map(async (node) => (await calls(node.port, 'mget')) + (await calls(node.port, 'get'))))
      expect(perNode.reduce((a, b) => a + b, 0)).toBe(slots.size)
    } finally {
      await backend.close()
    }
  })
})
