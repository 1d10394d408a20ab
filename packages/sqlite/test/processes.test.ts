import { join } from 'node:path'
import { dcache } from '@dcache/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SqliteBackend } from '../src/index.js'
import { killChildren, removeTempDirs, startChild, tempDir } from './helpers.js'

let directory: string
const backends: SqliteBackend[] = []

function open(path: string, busyTimeout?: number): SqliteBackend {
  const backend = new SqliteBackend({ path, busyTimeout })
  backends.push(backend)
  return backend
}

/**
 * Runs `operation` and measures how long the event loop was stuck: a timer due immediately
 * cannot fire before the synchronous SQLite call returns.
 */
async function timed<T>(operation: () => Promise<T>): Promise<{ settled: PromiseSettledResult<T>; blockedMs: number }> {
  const started = performance.now()
  const timerFired = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), 0))
  const [settled] = await Promise.allSettled([operation()])
  return { settled: settled!, blockedMs: await timerFired }
}

beforeAll(async () => {
  directory = await tempDir('processes')
})
afterEach(async () => {
  killChildren()
  for (const backend of backends.splice(0)) await backend.close()
})
afterAll(removeTempDirs)

describe('across processes', () => {
  it('a fresh node process gets a hit for what the first one computed', async () => {
    const path = join(directory, 'shared.sqlite')
    const first = await startChild('cache-user.ts', [path, '7']).exit
    expect(first.code, first.stderr).toBe(0)
    const computed = JSON.parse(first.stdout)
    expect(computed).toMatchObject({ ran: 1, misses: 1, hits: 0, errors: 0, result: { square: 49 } })

    const second = await startChild('cache-user.ts', [path, '7']).exit
    expect(second.code, second.stderr).toBe(0)
    const served = JSON.parse(second.stdout)
    // Served from tier 2 (SQLite), computed by the first process, and the function did not run.
    expect(served).toMatchObject({ ran: 0, misses: 0, hits: 1, tierHits: [0, 1], errors: 0 })
    expect(served.result).toEqual(computed.result)
  })

  it('a lock held by another process is refused until that process releases it', async () => {
    const path = join(directory, 'locks.sqlite')
    const holder = startChild('hold-lock.ts', [path, 'lock', 'rebuild-index'])
    await holder.line((line) => line === 'holding')
    const backend = open(path)
    expect(await backend.locks.tryAcquire('rebuild-index', 60_000)).toBeUndefined()
    expect(await backend.locks.tryAcquire('another-lock', 60_000)).toBeTypeOf('string')

    holder.process.stdin?.end()
    expect(await holder.line((line) => line.startsWith('released'))).toBe('released true')
    expect((await holder.exit).code).toBe(0)
    expect(await backend.locks.tryAcquire('rebuild-index', 60_000)).toBeTypeOf('string')
  })
})

describe('a database locked by another process', () => {
  const BUSY_TIMEOUT = 100
  // Loose on purpose (CI machines stall), yet far below better-sqlite3's 5 s default.
  const BLOCKED_AT_MOST = 10 * BUSY_TIMEOUT

  it('makes a write reject with SQLITE_BUSY after about busyTimeout, while reads go on', async () => {
    const path = join(directory, 'writer-locked.sqlite')
    const backend = open(path, BUSY_TIMEOUT)
    await backend.set({ key: 'before', value: Uint8Array.of(1), expiresAt: null })
    const holder = startChild('hold-lock.ts', [path, 'write'])
    await holder.line((line) => line === 'holding')

    const write = await timed(() => backend.set({ key: 'during', value: Uint8Array.of(2), expiresAt: null }))
    expect(write.settled.status).toBe('rejected')
    expect((write.settled as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' })
    expect(write.blockedMs).toBeGreaterThanOrEqual(BUSY_TIMEOUT * 0.9)
    expect(write.blockedMs).toBeLessThan(BLOCKED_AT_MOST)

    // WAL: a writer elsewhere does not stop readers (a waiting read would have failed as busy).
    expect((await backend.get('before'))?.value).toEqual(Buffer.of(1))

    // Through dcache the busy write is a skipped write: the caller still gets its result.
    const errors: string[] = []
    const double = dcache(backend)(async function double(n: number) {
      return n * 2
    })
    double.on('error', ({ error }) => errors.push(error.message))
    await expect(double(21)).resolves.toBe(42)
    expect(double.cacheInfo().errors).toBe(1)
    expect(errors).toEqual(['[dcache:sqlite] set failed: database is locked'])

    holder.process.stdin?.end()
    expect((await holder.exit).code).toBe(0)
    await backend.set({ key: 'after', value: Uint8Array.of(3), expiresAt: null })
    expect((await backend.get('after'))?.value).toEqual(Buffer.of(3))
  })

  it('makes a read reject with SQLITE_BUSY after about busyTimeout when the lock is exclusive', async () => {
    const path = join(directory, 'exclusive.sqlite')
    const setup = open(path)
    await setup.set({ key: 'k', value: Uint8Array.of(1), expiresAt: null })
    await setup.close()
    const holder = startChild('hold-lock.ts', [path, 'exclusive'])
    await holder.line((line) => line === 'holding')

    const backend = open(path, BUSY_TIMEOUT)
    const read = await timed(() => backend.get('k'))
    expect(read.settled.status).toBe('rejected')
    expect((read.settled as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' })
    expect(read.blockedMs).toBeGreaterThanOrEqual(BUSY_TIMEOUT * 0.9)
    expect(read.blockedMs).toBeLessThan(BLOCKED_AT_MOST)

    holder.process.stdin?.end()
    expect((await holder.exit).code).toBe(0)
    expect((await backend.get('k'))?.value).toEqual(Buffer.of(1))
  })
})
