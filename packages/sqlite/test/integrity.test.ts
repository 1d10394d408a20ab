import { join } from 'node:path'
import { dcache } from '@dcache/core'
import Database from 'better-sqlite3'
import { afterAll, expect, it } from 'vitest'
import { SqliteBackend } from '../src/index.js'
import { removeTempDirs, tempDir } from './helpers.js'

afterAll(removeTempDirs)

it('truncated, bit-flipped and swapped rows are misses, counted in cacheInfo(), and are rewritten', async () => {
  const path = join(await tempDir('integrity'), 'cache.sqlite')
  const backend = new SqliteBackend({ path })
  const runs: number[] = []
  const summarise = dcache(backend)(async function summarise(n: number) {
    runs.push(n)
    return { n, text: `entry number ${n}`.repeat(10) }
  })
  const reasons: string[] = []
  summarise.on('integrity', ({ reason }) => reasons.push(reason))
  for (const n of [1, 2, 3, 4, 5]) await summarise(n)

  // Damage the rows behind dcache's back, through another connection, as a bad disk or a stray
  // program would.
  const db = new Database(path)
  const read = db.prepare<[string], { value: Buffer }>('SELECT value FROM dcache_entries WHERE key = ?')
  const write = db.prepare('UPDATE dcache_entries SET value = ? WHERE key = ?')
  const valueOf = (n: number) => read.get(summarise.key(n))!.value
  const truncated = valueOf(1).subarray(0, valueOf(1).length - 7)
  const flipped = Buffer.from(valueOf(2))
  flipped[flipped.length >> 1]! ^= 0x10
  const [three, four] = [valueOf(3), valueOf(4)]
  write.run(truncated, summarise.key(1))
  write.run(flipped, summarise.key(2))
  write.run(four, summarise.key(3))
  write.run(three, summarise.key(4))
  db.close()

  runs.length = 0
  for (const n of [1, 2, 3, 4, 5]) expect((await summarise(n)).n).toBe(n)
  expect(runs, 'the damaged entries were recomputed, the intact one was a hit').toEqual([1, 2, 3, 4])
  expect(summarise.cacheInfo()).toMatchObject({ integrityFailures: 4, errors: 0 })
  expect(reasons).toHaveLength(4)

  // Recomputed values overwrote the damaged rows.
  runs.length = 0
  for (const n of [1, 2, 3, 4, 5]) await summarise(n)
  expect(runs).toEqual([])
  await backend.close()
})
