// Embedded tier latency: SqliteBackend get (a hit) and set of a ~100-byte value, directly and
// through dcache(). Standalone: `node packages/bench/src/embedded-sqlite.ts` (after `pnpm build`).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { dcache } from '@dcache/core'
import { SqliteBackend } from '@dcache/sqlite'
import { latency, latencyTable, type LatencyRow } from './measure.ts'

const HOT_KEYS = 1_000

/** get (hit) and set on SqliteBackend in a fresh temporary database, directly and through dcache(). */
export async function measureSqlite(): Promise<LatencyRow[]> {
  const directory = mkdtempSync(join(tmpdir(), 'dcache-bench-sqlite-'))
  const backend = new SqliteBackend({ path: join(directory, 'cache.sqlite') })
  try {
    const value = randomBytes(100)
    const keys = Array.from({ length: HOT_KEYS }, (_, i) => `dcache:bench:sqlite:1:key-${i}`)
    for (const key of keys) await backend.set({ key, value, expiresAt: null })
    const user = dcache({ backend })(async function user(id: number) {
      return { id, name: 'Ada Lovelace', email: 'ada@example.com', tags: ['math', 'poetry'], score: 98.5 }
    })
    for (let i = 0; i < HOT_KEYS; i++) await user(i)
    return [
      await latency('sqlite get (hit, 100 B)', (i) => backend.get(keys[i % HOT_KEYS]!)),
      await latency('sqlite set (100 B)', (i) => backend.set({ key: keys[i % HOT_KEYS]!, value, expiresAt: null })),
      await latency('dcache({ backend: sqlite }) hit', (i) => user(i % HOT_KEYS)),
    ]
  } finally {
    await backend.close()
    rmSync(directory, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(latencyTable('SqliteBackend, 100 B values', await measureSqlite()))
}
