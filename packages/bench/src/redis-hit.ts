// Scenarios C and D: a Redis hit (no memory tier), one caller and 64 concurrent callers, dcache
// against raw ioredis GET + JSON.parse, with and without auto-pipelining. Uses REDIS_URL, or starts
// its own redis-server on a free loopback port and stops it afterwards.
import { dcache } from '@dcache/core'
import { RedisBackend } from '@dcache/redis'
import { Redis } from 'ioredis'
import { RedisServer } from '../../redis/test/support/redis-servers.ts'
import { measure, type Measurement } from './measure.ts'

const HOT_KEYS = 1_000
const value = { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', tags: ['math', 'poetry'], score: 98.5, active: true }

/** Runs `body` with a Redis URL: REDIS_URL, or a redis-server started for the bench. */
export async function withRedis<T>(body: (url: string) => Promise<T>): Promise<T> {
  const given = process.env['REDIS_URL']
  if (given !== undefined) return body(given)
  const server = await RedisServer.start()
  try {
    return await body(server.url)
  } finally {
    await server.stop()
  }
}

/** C (concurrency 1) and D (concurrency 64): ops/s of a Redis hit. */
export async function redisHit(url: string, concurrency: number): Promise<Measurement[]> {
  const plain = new Redis(url)
  const pipelined = new Redis(url, { enableAutoPipelining: true })
  const backend = new RedisBackend({ url, prefix: 'bench:' })
  const getUser = dcache(backend)(async function getUser(id: number) {
    return { ...value, id }
  })
  try {
    for (let i = 0; i < HOT_KEYS; i++) {
      await plain.set(`bench:raw:${i}`, JSON.stringify({ ...value, id: i }))
      await getUser(i)
    }
    const raw = (client: Redis) => async (i: number) => JSON.parse((await client.get(`bench:raw:${i % HOT_KEYS}`)) as string) as unknown
    const ops = concurrency === 1 ? 20_000 : 100_000
    const options = { ops, concurrency, repetitions: 5 }
    return [
      await measure('ioredis GET + JSON.parse', raw(plain), options),
      await measure('ioredis GET + JSON.parse, auto-pipelined', raw(pipelined), options),
      await measure('dcache(RedisBackend)', (i) => getUser(i % HOT_KEYS), options),
    ]
  } finally {
    plain.disconnect()
    pipelined.disconnect()
    await backend.close()
  }
}
