// Latency of FileSystemBackend: `node packages/bench/src/embedded-fs.ts` (after `pnpm build`).
// ~100-byte values on 1 000 keys in a fresh temp directory; warm-up, then 20 000 sequential samples.
import { closeSync, constants, openSync, readSync } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { dcache } from '@dcache/core'
import { FileSystemBackend } from '@dcache/fs'
import { latency, type LatencyRow } from './measure.ts'

const KEYS = 1_000
const value = new Uint8Array(100).fill(42)

/**
 * get (hit) of FileSystemBackend directly with each read mode, set, a hit through
 * `dcache({ backend })` with the mode `reads: 'auto'` picks, and the floors under them: a raw
 * open, read and close of a small file, asynchronous (three thread-pool trips) and synchronous.
 */
export async function measureFs(): Promise<LatencyRow[]> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'dcache-bench-fs-'))
  try {
    const backend = new FileSystemBackend({ directory })
    const syncReads = new FileSystemBackend({ directory, reads: 'sync' })
    const asyncReads = new FileSystemBackend({ directory, reads: 'async' })
    const key = (i: number) => `bench:${i % KEYS}`
    for (let i = 0; i < KEYS; i++) await backend.set({ key: key(i), value, expiresAt: null })
    const cached = dcache({ backend })(async function lookup(id: number) {
      return { id, name: 'Ada Lovelace', email: 'ada@example.com', tags: ['math', 'poetry'] }
    })
    for (let i = 0; i < KEYS; i++) await cached(i)
    const floorFiles = Array.from({ length: KEYS }, (_, i) => path.join(directory, `floor-${i}`))
    for (const file of floorFiles) await writeFile(file, value)
    const buffer = Buffer.allocUnsafe(16 * 1024)
    const rows = [
      await latency('floor: open+read+close', async (i) => {
        const handle = await open(floorFiles[i % KEYS]!, constants.O_RDONLY)
        await handle.read(buffer, 0, buffer.length, 0)
        await handle.close()
      }),
      await latency('floor: sync open+read+close', async (i) => {
        const fd = openSync(floorFiles[i % KEYS]!, constants.O_RDONLY)
        readSync(fd, buffer, 0, buffer.length, 0)
        closeSync(fd)
      }),
      await latency('fs get (hit), sync reads', (i) => syncReads.get(key(i))),
      await latency('fs get (hit), async reads', (i) => asyncReads.get(key(i))),
      await latency('fs set', (i) => backend.set({ key: key(i), value, expiresAt: null })),
      await latency(`dcache hit on fs, auto reads (${backend.readMode ?? 'unopened'})`, (i) => cached(i % KEYS)),
    ]
    await Promise.all([backend, syncReads, asyncReads].map((instance) => instance.close()))
    return rows
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`FileSystemBackend on ${os.tmpdir()}, Node ${process.version}, ${os.cpus().length} CPUs`)
  for (const row of await measureFs()) {
    console.log(`${row.name.padEnd(36)} p50 ${row.p50.toFixed(1).padStart(7)} µs   p99 ${row.p99.toFixed(1).padStart(8)} µs`)
  }
}
