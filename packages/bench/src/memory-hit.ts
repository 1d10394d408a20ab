// Scenario A / A': memory hits on 1 000 hot keys, sequential, dcache against raw floors.
import { dcache } from '@dcache/core'
import { LRUCache } from 'lru-cache'
import { measure, type Measurement } from './measure.ts'

const HOT_KEYS = 1_000
const OPS = 2_000_000
const value = { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', tags: ['math', 'poetry'], score: 98.5, active: true }

/** A': a sync function, memoised in memory. */
export async function syncMemoryHit(): Promise<Measurement[]> {
  const map = new Map<number, typeof value>()
  const lru = new LRUCache<number, typeof value>({ max: 10_000 })
  const cached = dcache(function getUser(id: number) {
    return { ...value, id }
  })
  for (let i = 0; i < HOT_KEYS; i++) {
    map.set(i, { ...value, id: i })
    lru.set(i, { ...value, id: i })
    cached(i)
  }
  return [
    await measure('raw Map.get', (i) => map.get(i % HOT_KEYS), { ops: OPS }),
    await measure('lru-cache get', (i) => lru.get(i % HOT_KEYS), { ops: OPS }),
    await measure('dcache (sync fn)', (i) => cached(i % HOT_KEYS), { ops: OPS }),
  ]
}

/** A: an async function, memoised in memory; every call awaited. */
export async function asyncMemoryHit(): Promise<Measurement[]> {
  const map = new Map<number, typeof value>()
  const cached = dcache(async function getUser(id: number) {
    return { ...value, id }
  })
  for (let i = 0; i < HOT_KEYS; i++) {
    map.set(i, { ...value, id: i })
    await cached(i)
  }
  const rawAsync = async (i: number) => map.get(i % HOT_KEYS)
  return [
    await measure('raw Map.get in an async function', (i) => rawAsync(i), { ops: OPS / 4 }),
    await measure('dcache (async fn)', (i) => cached(i % HOT_KEYS), { ops: OPS / 4 }),
  ]
}
