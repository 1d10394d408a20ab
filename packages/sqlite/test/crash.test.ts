import { createHash, randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, expect, it } from 'vitest'
import { SqliteBackend } from '../src/index.js'
import { killChildren, removeTempDirs, startChild, tempDir } from './helpers.js'

const RUNS = 20
const KEYS = Array.from({ length: 10 }, (_, i) => `k${i}`)

afterEach(killChildren)
afterAll(removeTempDirs)

/** The fixture's payloads end with the SHA-256 of the bytes before it. */
function isWhole(value: Uint8Array): boolean {
  const body = value.subarray(0, value.byteLength - 32)
  return Buffer.from(value.subarray(value.byteLength - 32)).equals(createHash('sha256').update(body).digest())
}

it(
  `a writer killed with SIGKILL at random points (${RUNS} runs) never leaves a torn entry; the next process recovers and removes the WAL`,
  async () => {
    const path = join(await tempDir('crash'), 'cache.sqlite')
    let hits = 0
    for (let run = 0; run < RUNS; run++) {
      const writer = startChild('payloads.ts', ['crash', path])
      await writer.line((line) => line === 'writing')
      // A random point in the writer's loop of set / setMany transactions (64 KB to 1 MB each).
      await new Promise((resolve) => setTimeout(resolve, randomInt(0, 60)))
      writer.process.kill('SIGKILL')
      expect((await writer.exit).signal).toBe('SIGKILL')
      expect(existsSync(`${path}-wal`), 'the killed writer left its WAL').toBe(true)

      const next = new SqliteBackend({ path })
      const entries = await next.getMany(KEYS)
      for (const [i, entry] of entries.entries()) {
        if (entry !== undefined) {
          expect(isWhole(entry.value), `run ${run}: ${KEYS[i]} holds a torn value`).toBe(true)
          hits++
        }
      }
      await next.close()
      // The last connection to close checkpoints and deletes the WAL and shared memory the killed
      // writer left: SQLite's equivalent of cleaning orphaned temp files.
      expect(existsSync(`${path}-wal`), `run ${run}: WAL left behind`).toBe(false)
      expect(existsSync(`${path}-shm`), `run ${run}: shared memory file left behind`).toBe(false)
    }
    expect(hits, 'the writers did store entries').toBeGreaterThan(0)
    const db = new Database(path, { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
  },
  90_000,
)
