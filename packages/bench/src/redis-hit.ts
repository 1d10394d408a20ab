// Scenarios C, D, E and G: Redis hits. C and D read through Redis alone (one caller, 64
// concurrent callers), E through memory above Redis, G with larger values. dcache against raw
// ioredis GET + JSON.parse (with and without auto-pipelining) and the peers with a Redis tier.
// Uses REDIS_URL, or starts its own redis-server on a free loopback port and stops it afterwards.
import { dcache, decodeValue, InMemoryBackend, openEnvelope } from '@dcache/core'
import { RedisBackend } from '@dcache/redis'
import { Redis } from 'ioredis'
import { haveRedisServer, RedisServer } from '../../redis/test/support/redis-servers.ts'
import { HOT_KEYS, loadUser, user, users, type User } from './fixtures.ts'
import { compare, type Cell, type Measurement } from './measure.ts'
import { bentocacheTwoTier, redisOptions, redisPeers, type Peer } from './peers.ts'

/** Names of the rows the targets compare. */
export const ROWS = {
  raw: 'ioredis GET + JSON.parse',
  pipelined: 'ioredis GET + JSON.parse, auto-pipelined',
  dcache: 'dcache(RedisBackend)',
  floor: 'floor: RedisBackend.get + envelope check + decode',
  twoTier: 'dcache (memory + Redis)',
  bentoTwoTier: 'bentocache (memory L1 + Redis L2 + bus)',
  asyncMap: 'raw Map.get in an async function',
} as const

/** Every key this process writes starts with this, so a shared REDIS_URL is cleaned up by prefix. */
export const RUN_PREFIX = `dcache-bench:${process.pid}:`

/** Why the Redis scenarios cannot run here, or `undefined` when they can. */
export function redisUnavailable(): string | undefined {
  if (process.env['REDIS_URL'] !== undefined || haveRedisServer()) return undefined
  return 'no REDIS_URL is set and no redis-server binary is on the PATH'
}

/** Runs `body` with a Redis URL: REDIS_URL, or a redis-server started for the bench. */
export async function withRedis<T>(body: (url: string) => Promise<T>): Promise<T> {
  const given = process.env['REDIS_URL']
  if (given !== undefined) {
    try {
      return await body(given)
    } finally {
      await removeKeys(given, RUN_PREFIX)
    }
  }
  const server = await RedisServer.start()
  try {
    return await body(server.url)
  } finally {
    await server.stop()
  }
}

/** Deletes the keys under `prefix` with SCAN (never FLUSHDB: the server may be shared). */
async function removeKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(redisOptions(url))
  try {
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000)
      cursor = next
      if (keys.length > 0) await client.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
}

/** Closes everything the scenario opened, even when it failed half-way. */
async function closing<T>(resources: { close(): unknown }[], clients: Redis[], body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } finally {
    for (const client of clients) client.disconnect()
    await Promise.all(resources.map((resource) => resource.close()))
  }
}

const hot = (i: number) => i % HOT_KEYS
const peerCell = (peer: Peer): Cell => ({ name: peer.name, run: (i) => peer.get(hot(i)) })

/** C (concurrency 1) and D (concurrency 64): a Redis hit of a ~100 B value, no memory tier. */
export async function redisHit(url: string, concurrency: number): Promise<Measurement[]> {
  const prefix = `${RUN_PREFIX}${concurrency}:`
  const plain = new Redis(redisOptions(url))
  const pipelined = new Redis({ ...redisOptions(url), enableAutoPipelining: true })
  const backend = new RedisBackend({ url, prefix })
  const getUser = dcache(backend)(async function getUser(id: number) {
    return loadUser(id)
  })
  const peers = redisPeers(url, prefix)
  return closing([backend, ...peers], [plain, pipelined], async () => {
    for (let i = 0; i < HOT_KEYS; i++) {
      await plain.set(`${prefix}raw:${i}`, JSON.stringify(user(i)))
      await getUser(i)
      for (const peer of peers) await peer.get(i)
    }
    const raw = (client: Redis) => async (i: number) => JSON.parse((await client.get(`${prefix}raw:${hot(i)}`)) as string) as User
    // What dcache cannot skip: the read through its backend, the envelope's check and the decode,
    // without the deadline, single-flight, batching and statistics around them (one caller only).
    const keys = Array.from({ length: HOT_KEYS }, (_, i) => getUser.key(i))
    const floor = async (i: number) => {
      const key = keys[hot(i)] as string
      const stored = await backend.get(key)
      const opened = stored === undefined ? undefined : openEnvelope(stored.value, key)
      return opened?.ok === true ? decodeValue(opened.envelope.payload) : undefined
    }
    return compare(
      [
        { name: ROWS.raw, run: raw(plain) },
        { name: ROWS.pipelined, run: raw(pipelined) },
        ...(concurrency === 1 ? [{ name: ROWS.floor, run: floor }] : []),
        { name: ROWS.dcache, run: (i) => getUser(hot(i)) },
        ...peers.map(peerCell),
      ],
      { concurrency, repetitions: 9, targetMs: concurrency === 1 ? 150 : 200 },
    )
  })
}

/** E: two tiers, memory above Redis, every key in memory. dcache against bentocache's two levels. */
export async function twoTierHit(url: string): Promise<Measurement[]> {
  const prefix = `${RUN_PREFIX}e:`
  const backend = new RedisBackend({ url, prefix })
  const getUser = dcache({ multiple: [new InMemoryBackend(), backend] })(async function getUser(id: number) {
    return loadUser(id)
  })
  const bento = bentocacheTwoTier(url, `${prefix}bento`)
  const map = new Map<number, User>()
  return closing([backend, bento], [], async () => {
    for (let i = 0; i < HOT_KEYS; i++) {
      map.set(i, user(i))
      await getUser(i)
      await bento.get(i)
    }
    const rawMap = async (id: number) => map.get(id)
    return compare(
      [
        { name: ROWS.asyncMap, run: (i) => rawMap(hot(i)) },
        { name: ROWS.twoTier, run: (i) => getUser(hot(i)) },
        peerCell(bento),
      ],
      { batch: 100 },
    )
  })
}

/** The sizes of scenario G, and how many distinct keys each cycles through (1 MiB × 1 000 is too much for a bench). */
export const VALUE_SIZES = [
  { label: '100 B', bytes: 100, keys: HOT_KEYS },
  { label: '10 KiB', bytes: 10 * 1024, keys: 100 },
  { label: '1 MiB', bytes: 1024 * 1024, keys: 4 },
] as const

/** G: a Redis hit, one caller, for each value size: a list of users about that large as JSON. */
export async function redisValueSizes(url: string): Promise<Record<string, Measurement[]>> {
  const results: Record<string, Measurement[]> = {}
  for (const { label, bytes, keys } of VALUE_SIZES) {
    const prefix = `${RUN_PREFIX}g${bytes}:`
    const plain = new Redis(redisOptions(url))
    const backend = new RedisBackend({ url, prefix })
    const value = bytes <= 200 ? undefined : users(bytes)
    const getValue = dcache(backend)(async function getValue(id: number) {
      return value === undefined ? loadUser(id) : value.map((entry) => ({ ...entry, id: entry.id + id }))
    })
    results[label] = await closing([backend], [plain], async () => {
      for (let i = 0; i < keys; i++) await plain.set(`${prefix}raw:${i}`, JSON.stringify(await getValue(i)))
      return compare(
        [
          { name: ROWS.raw, run: async (i) => JSON.parse((await plain.get(`${prefix}raw:${i % keys}`)) as string) as unknown },
          { name: ROWS.dcache, run: (i) => getValue(i % keys) },
        ],
        { repetitions: 7, targetMs: bytes > 100_000 ? 300 : 150 },
      )
    })
  }
  return results
}
