// The libraries users would pick instead of dcache, each set up the way its own README shows,
// caching the same function (`loadUser`) on the same keys. Pinned in package.json.
import { cachified, totalTtl, type Cache, type CacheEntry } from '@epic-web/cachified'
import { createCache as createDedupeCache } from 'async-cache-dedupe'
import { BentoCache, bentostore, type BentoStore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache } from 'cache-manager'
import { Cacheable, createKeyv } from 'cacheable'
import { redisCacheAdapter, type RedisLikeCache } from 'cachified-redis-adapter'
import { Redis, type RedisOptions } from 'ioredis'
import { LRUCache } from 'lru-cache'
import pMemoize from 'p-memoize'
import { loadUser, type User } from './fixtures.ts'

/** One peer caching `loadUser`. */
export interface Peer {
  readonly name: string
  readonly get: (id: number) => Promise<User>
  /** Closes what the peer opened. */
  readonly close: () => Promise<void>
  /** Resolves once its connections are up (peers with a Redis tier). */
  readonly ready?: () => Promise<void>
}

/** The function a peer caches. */
export type LoadUser = (id: number) => Promise<User>

/** Entries a bounded memory tier keeps: dcache's `InMemoryBackend` default, used for every peer. */
export const MEMORY_ENTRIES = 10_000
/** Lifetime of cached results: long enough never to expire during a run. */
const TTL_MS = 3_600_000

const closeNothing = async () => {}

/** bentocache: one store, an L1 memory layer (getOrSet with a factory). */
export function bentocacheMemory(fn: LoadUser = loadUser): Peer {
  const bento = new BentoCache({
    default: 'cache',
    stores: { cache: bentostore().useL1Layer(memoryDriver({ maxItems: MEMORY_ENTRIES })) },
  })
  return {
    name: 'bentocache (memory)',
    get: (id) => bento.getOrSet({ key: `user:${id}`, ttl: TTL_MS, factory: () => fn(id) }),
    close: () => bento.disconnectAll(),
  }
}

/** cache-manager 7: one Keyv store on CacheableMemory, its README's "high performance in-memory cache". */
export function cacheManagerMemory(fn: LoadUser = loadUser): Peer {
  const cache = createCache({ stores: [createKeyv({ ttl: TTL_MS, lruSize: MEMORY_ENTRIES })] })
  return {
    name: 'cache-manager (Keyv + CacheableMemory)',
    get: (id) => cache.wrap(`user:${id}`, () => fn(id)),
    close: () => cache.disconnect().then(() => undefined),
  }
}

/** cacheable: `wrap` (memoisation) on its in-memory primary store, bounded like the others. */
export function cacheableMemory(fn: LoadUser = loadUser): Peer {
  const cache = new Cacheable({ primary: createKeyv({ lruSize: MEMORY_ENTRIES }), ttl: TTL_MS })
  return { name: 'cacheable (wrap)', get: cache.wrap(fn, { keyPrefix: 'user' }), close: () => cache.disconnect() }
}

/** @epic-web/cachified on lru-cache, exactly its README's adapter. */
export function cachifiedMemory(fn: LoadUser = loadUser): Peer {
  const lruInstance = new LRUCache<string, CacheEntry>({ max: MEMORY_ENTRIES })
  const lru: Cache = {
    set(key, value) {
      const ttl = totalTtl(value?.metadata)
      return lruInstance.set(key, value, { ttl: ttl === Infinity ? undefined : ttl, start: value?.metadata?.createdTime })
    },
    get(key) {
      return lruInstance.get(key)
    },
    delete(key) {
      return lruInstance.delete(key)
    },
  }
  return {
    name: '@epic-web/cachified (lru-cache)',
    get: (id) => cachified({ key: `user-${id}`, cache: lru, ttl: TTL_MS, getFreshValue: () => fn(id) }),
    close: closeNothing,
  }
}

/** async-cache-dedupe: `define` on memory storage. */
export function asyncCacheDedupeMemory(fn: LoadUser = loadUser): Peer {
  const cache = createDedupeCache({ ttl: TTL_MS / 1_000, storage: { type: 'memory', options: { size: MEMORY_ENTRIES } } }).define('loadUser', fn)
  return { name: 'async-cache-dedupe (memory)', get: (id) => cache.loadUser(id), close: closeNothing }
}

/**
 * p-memoize with its default cache, an unbounded `Map` (its README's first example); `bounded`
 * gives it an lru-cache instead (the README suggests an LRU for that), for scenarios that add keys.
 */
export function pMemoizeMemory(bounded = false, fn: LoadUser = loadUser): Peer {
  if (!bounded) return { name: 'p-memoize (Map)', get: pMemoize(fn), close: closeNothing }
  const cache = new LRUCache<number, User>({ max: MEMORY_ENTRIES })
  return { name: 'p-memoize (lru-cache)', get: pMemoize(fn, { cache }), close: closeNothing }
}

/** A factory of every in-memory peer; `bounded` for scenarios that keep adding keys. */
export function memoryPeerFactories(bounded = false, fn: LoadUser = loadUser): (() => Peer)[] {
  return [
    () => bentocacheMemory(fn),
    () => cacheManagerMemory(fn),
    () => cacheableMemory(fn),
    () => cachifiedMemory(fn),
    () => asyncCacheDedupeMemory(fn),
    () => pMemoizeMemory(bounded, fn),
  ]
}

/** Every in-memory peer; `bounded` for scenarios that keep adding keys. */
export function memoryPeers(bounded = false, fn: LoadUser = loadUser): Peer[] {
  return memoryPeerFactories(bounded, fn).map((make) => make())
}

/** ioredis options for `url` (`redis://host:port`). */
export function redisOptions(url: string): RedisOptions {
  const { hostname, port } = new URL(url)
  return { host: hostname, port: Number(port || 6379) }
}

/** Resolves once `client` is connected and ready. */
export function whenReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve())
    client.once('error', reject)
  })
}

/** A Redis peer on its own ioredis client (bentocache accepts one in place of connection options). */
function onClient(url: string, make: (client: Redis) => Omit<Peer, 'ready'>): Peer {
  const client = new Redis(redisOptions(url))
  const peer = make(client)
  return {
    ...peer,
    ready: () => whenReady(client),
    close: async () => {
      await peer.close()
      client.disconnect()
    },
  }
}

/** bentocache: Redis as its only layer (L2), no memory. */
export function bentocacheRedis(url: string, prefix: string, fn: LoadUser = loadUser): Peer {
  return onClient(url, (client) => {
    const bento = new BentoCache({
      default: 'cache',
      stores: { cache: bentostore().useL2Layer(redisDriver({ connection: client, prefix })) },
    })
    return {
      name: 'bentocache (Redis L2)',
      get: (id) => bento.getOrSet({ key: `user:${id}`, ttl: TTL_MS, factory: () => fn(id) }),
      close: () => bento.disconnectAll(),
    }
  })
}

/**
 * bentocache multi-tier, as its README's "two levels": memory L1, Redis L2 on `client`, and the
 * Redis bus that keeps the L1s of several processes coherent.
 */
export function bentocacheTwoTierCache(client: Redis, url: string, prefix: string): BentoCache<{ cache: BentoStore }> {
  return new BentoCache({
    default: 'cache',
    stores: {
      cache: bentostore()
        .useL1Layer(memoryDriver({ maxItems: MEMORY_ENTRIES }))
        .useL2Layer(redisDriver({ connection: client, prefix }))
        .useBus(redisBusDriver({ connection: redisOptions(url) })),
    },
  })
}

/** {@link bentocacheTwoTierCache} as a peer. */
export function bentocacheTwoTier(url: string, prefix: string, fn: LoadUser = loadUser): Peer {
  return onClient(url, (client) => {
    const bento = bentocacheTwoTierCache(client, url, prefix)
    return {
      name: 'bentocache (memory L1 + Redis L2 + bus)',
      get: (id) => bento.getOrSet({ key: `user:${id}`, ttl: TTL_MS, factory: () => fn(id) }),
      close: () => bento.disconnectAll(),
    }
  })
}

/**
 * @epic-web/cachified with cachified-redis-adapter. The adapter's README passes a node-redis
 * client (`redis`, not installed here); an ioredis client gets the same three methods.
 */
export function cachifiedRedis(url: string, prefix: string, fn: LoadUser = loadUser): Peer {
  return onClient(url, (client) => {
    const nodeRedisLike: RedisLikeCache = {
      get: (key) => client.get(key),
      set: (key, value, options) => (options === undefined ? client.set(key, value) : client.set(key, value, 'EXAT', options.EXAT)),
      del: (key) => client.del(key),
    }
    const cache = redisCacheAdapter(nodeRedisLike)
    return {
      name: '@epic-web/cachified (Redis adapter)',
      get: (id) => cachified({ key: `${prefix}user-${id}`, cache, ttl: TTL_MS, getFreshValue: () => fn(id) }),
      close: closeNothing,
    }
  })
}

/** async-cache-dedupe on its Redis storage (an ioredis client); `prefix` names the function. */
export function asyncCacheDedupeRedis(url: string, prefix: string, fn: LoadUser = loadUser): Peer {
  return onClient(url, (client) => {
    const name = `${prefix}loadUser`
    const cache = createDedupeCache({ ttl: TTL_MS / 1_000, storage: { type: 'redis', options: { client } } }).define(name, fn)
    const get = (cache as unknown as Record<string, LoadUser>)[name]!
    return { name: 'async-cache-dedupe (Redis)', get, close: closeNothing }
  })
}

/** Every peer with Redis as its only tier (cache-manager and cacheable need `@keyv/redis`, not installed). */
export function redisPeers(url: string, prefix: string, fn: LoadUser = loadUser): Peer[] {
  return [
    bentocacheRedis(url, prefix + 'bento', fn),
    cachifiedRedis(url, prefix + 'cachified:', fn),
    asyncCacheDedupeRedis(url, prefix + 'dedupe:', fn),
  ]
}
