// Embedded tier latency: SqliteBackend get (a hit) and set of a ~100-byte value, directly and
// through dcache(). Standalone: `node packages/bench/src/embedded-sqlite.ts` (after `pnpm build`).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { dcache } from '@dcache/core'
import { SqliteBackend } from '@dcache/sqlite'

/** Latency of one operation, in microseconds. */
export interface LatencyRow {
  readonly name: string
  readonly p50: number
  readonly p99: number
}

const HOT_KEYS = 1_000
const WARM_UP = 2_000
const SAMPLES = 20_000

/** Times `SAMPLES` sequential awaited calls of `run(i)` one by one, after a warm-up. */
async function latency(name: string, run: (i: number) => Promise<unknown>): Promise<LatencyRow> {
  for (let i = 0; i < WARM_UP; i++) await run(i)
  const micros = new Float64Array(SAMPLES)
  for (let i = 0; i < SAMPLES; i++) {
    const start = process.hrtime.bigint()
    await run(i)
    micros[i] = Number(process.hrtime.bigint() - start) / 1_000
  }
  micros.sort()
  return { name, p50: micros[Math.floor(SAMPLES * 0.5)]!, p99: micros[Math.floor(SAMPLES * 0.99)]! }
}

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
  console.log('| operation | p50 (µs) | p99 (µs) |\n|---|---:|---:|')
  for (const row of await measureSqlite()) console.log(`| ${row.name} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} |`)
}
