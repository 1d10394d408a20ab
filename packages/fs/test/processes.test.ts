// Real `node` processes sharing one cache directory. Run `pnpm build` first: workers import dist/.
import { setTimeout as delay } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileSystemBackend } from '../src/index.js'
import { filesUnder, killWorkers, lastJson, removeDirectory, runWorker, startWorker, temporaryDirectory } from './helpers.js'

interface ReadCounts {
  hits: number
  misses: number
  torn: number
  errors?: number
  problems: string[]
  readMode?: string
}

let directory: string
beforeEach(async () => {
  directory = await temporaryDirectory('processes')
})
afterEach(async () => {
  killWorkers()
  await removeDirectory(directory)
})

describe('FileSystemBackend across processes', () => {
  it('serves a second process from what the first computed', async () => {
    type Output = { result: number; runs: number; info: { hits: number; tierHits: number[] } }
    const first = await runWorker<Output>(['compute', directory])
    expect(first).toMatchObject({ result: 144, runs: 1, info: { hits: 0 } })
    const second = await runWorker<Output>(['compute', directory])
    expect(second).toMatchObject({ result: 144, runs: 0, info: { hits: 1, tierHits: [0, 1] } })
  })

  it('never shows a reader a torn value while 8 processes overwrite one key 1 000 times each', async () => {
    const size = 256 * 1024
    // Values over the 64 KiB cap of a synchronous read: half the readers read them 'sync' (the rest in the thread pool).
    const modes = ['sync', 'async', 'sync', 'async']
    const readers = modes.map((reads) => startWorker(['read', directory, 'contended', String(size), `--reads=${reads}`], 120_000))
    await Promise.all(readers.map((reader) => reader.ready))
    const writers = Array.from({ length: 8 }, (_, writer) =>
      startWorker(['write', directory, String(writer), '1000', String(size), 'contended'], 120_000),
    )
    for (const writer of writers) expect(lastJson(await writer.exit)).toEqual({ written: 1000 })
    for (const reader of readers) reader.send('stop\n')
    const counts = await Promise.all(readers.map(async (reader) => lastJson<ReadCounts>(await reader.exit)))
    console.info(`[fs] readers during the writes: ${JSON.stringify(counts.map(({ hits, misses, readMode }) => ({ readMode, hits, misses })))}`)
    expect(counts.map((count) => count.readMode)).toEqual(modes)
    for (const count of counts) {
      expect(count.problems).toEqual([])
      expect(count).toMatchObject({ torn: 0, errors: 0 })
    }
    expect(counts.reduce((sum, count) => sum + count.hits, 0), 'readers saw complete payloads').toBeGreaterThan(0)
    // The last rename of all is some writer's last write.
    const last = await new FileSystemBackend({ directory }).get('contended')
    expect(new DataView(last!.value.buffer).getUint32(4)).toBe(999)
    expect((await filesUnder(directory)).filter((file) => file.endsWith('.tmp'))).toEqual([])
  })

  it('never serves a torn entry after writers are SIGKILLed mid-write, and the next process removes their temp files', async () => {
    const size = 1024 * 1024
    const keys = ['k0', 'k1', 'k2']
    let orphans = 0
    let run = 0
    // At least 20 kills, and more (up to 60) until one has landed between open and rename.
    for (; run < 20 || (orphans === 0 && run < 60); run++) {
      const writer = startWorker(['write', directory, String(run), 'forever', String(size), ...keys])
      await writer.ready
      // A random point in the write loop: open, write, rename, mkdir…
      await delay(Math.random() * 30)
      writer.child.kill('SIGKILL')
      expect((await writer.exit).signal).toBe('SIGKILL')
      const check = await runWorker<ReadCounts>(['check', directory, String(size), ...keys])
      expect(check.problems).toEqual([])
      expect(check.torn).toBe(0)
      expect(check.hits, 'the first write completed before the kill').toBeGreaterThan(0)
      orphans = (await filesUnder(directory)).filter((file) => file.endsWith('.tmp')).length
    }
    console.info(`[fs] temp files left by ${run} SIGKILLed writers: ${orphans}`)
    expect(orphans, 'some kills landed mid-write (else this test shows nothing)').toBeGreaterThan(0)
    await runWorker(['prune', directory])
    expect((await filesUnder(directory)).filter((file) => file.endsWith('.tmp'))).toEqual([])
    const after = await runWorker<ReadCounts>(['check', directory, String(size), ...keys])
    expect(after).toMatchObject({ hits: 3, torn: 0 })
  })

  it('gives a stale lock, and then a released one, to exactly one of 8 processes spinning on tryAcquire', async () => {
    const backend = new FileSystemBackend({ directory })
    let holder = (await backend.locks.tryAcquire('job', 60_000))!
    for (const round of ['stale', 'released']) {
      const racers = Array.from({ length: 8 }, () => startWorker(['lock', directory, 'job']))
      await Promise.all(racers.map((racer) => racer.ready))
      // Every racer is looping on tryAcquire when the lock turns stale (or free).
      if (round === 'stale') expect(await backend.locks.extend('job', holder, 30)).toBe(true)
      else expect(await backend.locks.release('job', holder)).toBe(true)
      const first = await Promise.race(racers.map((racer) => racer.exit))
      for (const racer of racers) racer.send('stop\n')
      const tokens = await Promise.all(racers.map(async (racer) => lastJson<{ token: string | null }>(await racer.exit).token))
      const winners = tokens.filter((token) => token !== null)
      expect(winners, `${round} lock: one winner`).toEqual([lastJson<{ token: string }>(first).token])
      expect(await backend.locks.tryAcquire('job', 60_000), 'held by the winner').toBeUndefined()
      holder = winners[0]!
    }
  })
})
