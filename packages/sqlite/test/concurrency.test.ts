import { join } from 'node:path'
import { afterAll, afterEach, expect, it } from 'vitest'
import { SqliteBackend } from '../src/index.js'
import { type Child, killChildren, removeTempDirs, startChild, tempDir } from './helpers.js'

const WRITERS = 8
const READERS = 4
const WRITES_EACH = 1_000
const PAYLOAD_BYTES = 256 * 1024

afterEach(killChildren)
afterAll(removeTempDirs)

interface ReaderReport {
  readonly hits: number
  readonly misses: number
  readonly torn: number
  readonly failed: number
  readonly writers: number[]
}

it(
  `${WRITERS} processes writing 256 KB payloads to one key ${WRITES_EACH} times while ${READERS} read: every read is a miss or one whole payload`,
  async () => {
    const path = join(await tempDir('concurrency'), 'cache.sqlite')
    // Create the file first, so the processes race on entries, not on creating the schema.
    const setup = new SqliteBackend({ path })
    await setup.delete('contended')
    await setup.close()

    const readers: Child[] = []
    for (let i = 0; i < READERS; i++) readers.push(startChild('payloads.ts', ['read', path, String(PAYLOAD_BYTES)], 120_000))
    const writers = Array.from({ length: WRITERS }, (_, i) =>
      startChild('payloads.ts', ['write', path, String(i + 1), String(WRITES_EACH), String(PAYLOAD_BYTES)], 120_000),
    )
    const written = await Promise.all(writers.map((writer) => writer.exit))
    for (const reader of readers) reader.process.stdin?.end()
    const read = await Promise.all(readers.map((reader) => reader.exit))

    for (const exit of [...written, ...read]) expect(exit.code, exit.stderr).toBe(0)
    const writes = written.map((exit) => JSON.parse(exit.stdout) as { written: number; failed: number })
    const reads = read.map((exit) => JSON.parse(exit.stdout) as ReaderReport)
    console.info('[sqlite concurrency] writers', JSON.stringify(writes), 'readers', JSON.stringify(reads))

    expect(reads.reduce((sum, r) => sum + r.torn, 0), 'torn or mixed payloads read').toBe(0)
    // Busy writes are skipped writes (how many depends on the machine's load); every writer got in.
    for (const w of writes) expect(w.written).toBeGreaterThan(0)
    for (const r of reads) expect(r.hits).toBeGreaterThan(0)
    expect(new Set(reads.flatMap((r) => r.writers)).size, 'payloads of several writers were read').toBeGreaterThan(1)
  },
  120_000,
)
