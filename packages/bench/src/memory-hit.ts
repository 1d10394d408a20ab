// Scenarios A, A' and B: the memory tier. A and A' hit 1 000 hot keys in sequence; B misses with
// a new key on every call, so each call runs the function and stores its result.
import { dcache } from '@dcache/core'
import { LRUCache } from 'lru-cache'
import { HOT_KEYS, loadUser, user, type User } from './fixtures.ts'
import { compare, type Cell, type Measurement } from './measure.ts'
import { MEMORY_ENTRIES, memoryPeers, type Peer } from './peers.ts'

/** Names of the rows the targets compare. */
export const ROWS = {
  map: 'raw Map.get',
  lruGet: 'lru-cache get',
  asyncMap: 'raw Map.get in an async function',
  asyncLru: 'lru-cache get in an async function',
  dcacheSync: 'dcache (sync function)',
  dcacheAsync: 'dcache (async function)',
  lruMissSet: 'lru-cache get + set',
  asyncLruMissSet: 'lru-cache get + set in an async function',
} as const

const peerCell = (peer: Peer, key: (i: number) => number): Cell => ({ name: peer.name, run: (i) => peer.get(key(i)) })
const hot = (i: number) => i % HOT_KEYS

async function closeAll(peers: readonly Peer[]): Promise<void> {
  await Promise.all(peers.map((peer) => peer.close()))
}

/** A': a sync function memoised in memory, against the raw floors. */
export async function syncMemoryHit(): Promise<Measurement[]> {
  const map = new Map<number, User>()
  const lru = new LRUCache<number, User>({ max: MEMORY_ENTRIES })
  const cached = dcache(function getUser(id: number) {
    return user(id)
  })
  for (let i = 0; i < HOT_KEYS; i++) {
    map.set(i, user(i))
    lru.set(i, user(i))
    cached(i)
  }
  return compare(
    [
      { name: ROWS.map, run: (i) => map.get(hot(i)) },
      { name: ROWS.lruGet, run: (i) => lru.get(hot(i)) },
      { name: ROWS.dcacheSync, run: (i) => cached(hot(i)) },
    ],
    { batch: 1_000 },
  )
}

/** A: an async function memoised in memory; every call awaited. dcache against every peer. */
export async function asyncMemoryHit(): Promise<Measurement[]> {
  const map = new Map<number, User>()
  const lru = new LRUCache<number, User>({ max: MEMORY_ENTRIES })
  const cached = dcache(async function getUser(id: number) {
    return loadUser(id)
  })
  const peers = memoryPeers()
  try {
    for (let i = 0; i < HOT_KEYS; i++) {
      map.set(i, user(i))
      lru.set(i, user(i))
      await cached(i)
      for (const peer of peers) await peer.get(i)
    }
    const rawMap = async (id: number) => map.get(id)
    const rawLru = async (id: number) => lru.get(id)
    return await compare(
      [
        { name: ROWS.asyncMap, run: (i) => rawMap(hot(i)) },
        { name: ROWS.asyncLru, run: (i) => rawLru(hot(i)) },
        { name: ROWS.dcacheAsync, run: (i) => cached(hot(i)) },
        ...peers.map((peer) => peerCell(peer, hot)),
      ],
      { batch: 100 },
    )
  } finally {
    await closeAll(peers)
  }
}

/** B: a miss on a new key every call: the function runs and its result is stored (LRU-bounded). */
export async function memoryMissSet(): Promise<Measurement[]> {
  const lru = new LRUCache<number, User>({ max: MEMORY_ENTRIES })
  const asyncLru = new LRUCache<number, User>({ max: MEMORY_ENTRIES })
  const getOrSet = (cache: LRUCache<number, User>, id: number): User => {
    const found = cache.get(id)
    if (found !== undefined) return found
    const value = user(id)
    cache.set(id, value)
    return value
  }
  const sync = dcache(function getUser(id: number) {
    return user(id)
  })
  const async = dcache(async function getUser(id: number) {
    return loadUser(id)
  })
  const peers = memoryPeers(true)
  try {
    return await compare(
      [
        { name: ROWS.lruMissSet, run: (i) => getOrSet(lru, i) },
        { name: ROWS.dcacheSync, run: (i) => sync(i) },
        { name: ROWS.asyncLruMissSet, run: async (i) => getOrSet(asyncLru, i) },
        { name: ROWS.dcacheAsync, run: (i) => async(i) },
        ...peers.map((peer) => peerCell(peer, (i) => i)),
      ],
      { batch: 100 },
    )
  } finally {
    await closeAll(peers)
  }
}
