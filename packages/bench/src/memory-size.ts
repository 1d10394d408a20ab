// Scenario J: heap bytes per cached entry, after GC: dcache's memory tier against lru-cache, a
// plain Map and the in-memory peers, each holding the same 10 000 results (~100 B objects).
import { setTimeout as sleep } from 'node:timers/promises'
import { dcache, InMemoryBackend } from '@dcache/core'
import { LRUCache } from 'lru-cache'
import { user, type User } from './fixtures.ts'
import { MEMORY_ENTRIES, memoryPeerFactories, type Peer } from './peers.ts'

const ENTRIES = MEMORY_ENTRIES

/** Heap bytes one entry costs, the value included. */
export interface SizeRow {
  readonly name: string
  readonly bytesPerEntry: number
}

async function heapUsed(): Promise<number> {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error('scenario J needs node --expose-gc')
  // Settle pending promises and finalizers, then collect until the heap stops shrinking.
  await sleep(10)
  let used = Infinity
  for (let i = 0; i < 10; i++) {
    gc()
    const now = process.memoryUsage().heapUsed
    if (now >= used) break
    used = now
  }
  return used
}

/** Heap growth per entry while `build` holds ENTRIES results (the structure is kept alive until measured). */
async function perEntry(name: string, build: () => Promise<unknown>): Promise<SizeRow> {
  const before = await heapUsed()
  const held = await build()
  const after = await heapUsed()
  if (held === undefined) throw new Error('unreachable: keeps `held` alive until measured')
  return { name, bytesPerEntry: (after - before) / ENTRIES }
}

/** J: bytes per entry of each structure holding ENTRIES cached results. */
export async function memoryPerEntry(): Promise<SizeRow[]> {
  const rows: SizeRow[] = [
    await perEntry('the values alone, in an array', async () => Array.from({ length: ENTRIES }, (_, i) => user(i))),
    await perEntry('raw Map', async () => {
      const map = new Map<number, User>()
      for (let i = 0; i < ENTRIES; i++) map.set(i, user(i))
      return map
    }),
    await perEntry('lru-cache', async () => {
      const lru = new LRUCache<number, User>({ max: ENTRIES })
      for (let i = 0; i < ENTRIES; i++) lru.set(i, user(i))
      return lru
    }),
    await perEntry('dcache (sync function)', async () => {
      const cached = dcache(function getUser(id: number) {
        return user(id)
      }, { backend: new InMemoryBackend({ maxSize: ENTRIES }) })
      for (let i = 0; i < ENTRIES; i++) cached(i)
      return cached
    }),
    await perEntry('dcache (async function)', async () => {
      const cached = dcache(async function getUser(id: number) {
        return user(id)
      }, { backend: new InMemoryBackend({ maxSize: ENTRIES }) })
      for (let i = 0; i < ENTRIES; i++) await cached(i)
      return cached
    }),
  ]
  for (const make of memoryPeerFactories(true)) {
    let peer: Peer | undefined
    const row = await perEntry('', async () => {
      peer = make()
      for (let i = 0; i < ENTRIES; i++) await peer.get(i)
      return peer
    })
    rows.push({ ...row, name: peer!.name })
    await peer!.close()
  }
  return rows
}

/** Markdown table of bytes per entry, with the overhead over the value itself. */
export function sizeTable(title: string, rows: readonly SizeRow[]): string {
  const value = rows[0]?.bytesPerEntry ?? 0
  const lines = [`### ${title}`, '', '| structure | bytes per entry | beyond the value |', '|---|---:|---:|']
  for (const row of rows) {
    lines.push(`| ${row.name} | ${Math.round(row.bytesPerEntry)} | ${Math.round(row.bytesPerEntry - value)} |`)
  }
  return lines.join('\n')
}
