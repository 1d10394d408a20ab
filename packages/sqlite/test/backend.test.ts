import { statSync, writeFileSync, rmSync, existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { DcacheError, DcacheTypeError } from '@dcache/core'
import Database from 'better-sqlite3'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { SqliteBackend, type SqliteBackendOptions } from '../src/index.js'
import { removeTempDirs, tempDir } from './helpers.js'

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (entry: { value: Uint8Array } | undefined) => (entry === undefined ? undefined : Buffer.from(entry.value).toString())
const opened: { close(): unknown }[] = []

function backend(options: SqliteBackendOptions): SqliteBackend {
  const created = new SqliteBackend(options)
  opened.push(created)
  return created
}

function inspect(path: string): Database.Database {
  const db = new Database(path, { readonly: true })
  opened.push(db)
  return db
}

afterEach(async () => {
  vi.useRealTimers()
  vi.unstubAllEnvs()
  for (const item of opened.splice(0).reverse()) await item.close()
})
afterAll(removeTempDirs)

describe('options', () => {
  it.each([
    ['entries; DROP TABLE users', /"entries; DROP TABLE users"/],
    ['1entries', /"1entries"/],
    ['sqlite_master', /"sqlite_master"/],
    ['', /""/],
    ['a'.repeat(65), /at most 64/],
  ])('refuses the table name %j with a DcacheTypeError naming it', (table, message) => {
    const attempt = () => new SqliteBackend({ table, maintenanceInterval: 0 })
    expect(attempt).toThrow(DcacheTypeError)
    expect(attempt).toThrow(message)
    expect(attempt).toThrow(/table/)
    try {
      attempt()
    } catch (error) {
      expect(DcacheError.is(error, 'E_INVALID_OPTION')).toBe(true)
    }
  })

  it.each([
    [{ busyTimeout: -1 }, /busyTimeout/],
    [{ busyTimeout: 1.5 }, /busyTimeout/],
    [{ maintenanceInterval: Number.NaN }, /maintenanceInterval/],
    [{ path: '' }, /path/],
    [{ path: '/tmp/x.sqlite', database: new Database(':memory:') }, /either path or database/],
  ] as const)('refuses %o', (options, message) => {
    expect(() => new SqliteBackend(options)).toThrow(DcacheTypeError)
    expect(() => new SqliteBackend(options)).toThrow(message)
  })

  it('opens the default database under $XDG_CACHE_HOME/dcache, creating the directory with mode 0700', async () => {
    const home = await tempDir('xdg')
    vi.stubEnv('XDG_CACHE_HOME', home)
    const cache = backend({})
    expect(cache.path).toBe(join(home, 'dcache', 'cache.sqlite'))
    await cache.set({ key: 'k', value: bytes('v'), expiresAt: null })
    expect(statSync(join(home, 'dcache')).mode & 0o777).toBe(0o700)
    expect(existsSync(cache.path)).toBe(true)
  })

  it('defaults to ~/.cache/dcache/cache.sqlite without XDG_CACHE_HOME (and does no I/O until used)', () => {
    vi.stubEnv('XDG_CACHE_HOME', undefined)
    expect(backend({}).path).toBe(join(homedir(), '.cache', 'dcache', 'cache.sqlite'))
  })

  it('rejects operations, rather than throwing from the constructor, while the database cannot be opened, and recovers', async () => {
    const directory = await tempDir('unopenable')
    const blocker = join(directory, 'not-a-directory')
    writeFileSync(blocker, 'a file where the cache directory should be')
    const cache = backend({ path: join(blocker, 'cache.sqlite') })
    await expect(cache.get('k')).rejects.toThrow()
    await expect(cache.set({ key: 'k', value: bytes('v'), expiresAt: null })).rejects.toThrow()
    rmSync(blocker)
    await cache.set({ key: 'k', value: bytes('v'), expiresAt: null })
    expect(text(await cache.get('k'))).toBe('v')
  })
})

describe('storage', () => {
  it('uses WAL mode and an index on expires_at', async () => {
    const path = join(await tempDir('schema'), 'cache.sqlite')
    await backend({ path, table: 'entries' }).set({ key: 'k', value: bytes('v'), expiresAt: null })
    const db = inspect(path)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT key FROM entries WHERE expires_at <= ?').all(Date.now())
    expect(JSON.stringify(plan)).toContain('entries_expires_at')
  })

  it('reads many keys in one SQL statement, one slot per key, duplicates included', async () => {
    const statements: string[] = []
    const db = new Database(':memory:', { verbose: (sql) => statements.push(String(sql)) })
    opened.push(db)
    const cache = backend({ database: db })
    const keys = Array.from({ length: 50 }, (_, i) => `key:${i}`)
    await cache.setMany(keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: bytes(key), expiresAt: null })))
    statements.length = 0
    const entries = await cache.getMany([...keys, 'key:0'])
    expect(statements).toHaveLength(1)
    expect(statements[0]).toMatch(/^SELECT/)
    expect(entries).toHaveLength(51)
    entries.forEach((entry, i) => {
      if (i % 2 === 0) expect(text(entry)).toBe(`key:${i % 50}`)
      else expect(entry).toBeUndefined()
    })
  })

  it('writes setMany in one transaction: a failing entry leaves none of them stored', async () => {
    const cache = backend({ path: join(await tempDir('atomic'), 'cache.sqlite') })
    await cache.set({ key: 'b', value: bytes('old b'), expiresAt: null })
    const broken = { key: 'c', value: null as unknown as Uint8Array, expiresAt: null } // NOT NULL fails
    await expect(
      cache.setMany([{ key: 'a', value: bytes('a'), expiresAt: null }, { key: 'b', value: bytes('new b'), expiresAt: null }, broken]),
    ).rejects.toThrow(/NOT NULL/)
    const [a, b] = await cache.getMany(['a', 'b'])
    expect(a).toBeUndefined()
    expect(text(b)).toBe('old b')
  })

  it('skips expired rows on read and deletes them on prune(), only under its own prefix', async () => {
    const path = join(await tempDir('prune'), 'cache.sqlite')
    vi.useFakeTimers({ toFake: ['Date'] })
    const mine = backend({ path, prefix: 'mine:' })
    const theirs = backend({ path, prefix: 'theirs:' })
    const soon = Date.now() + 1_000
    for (const key of ['a', 'b', 'c']) await mine.set({ key, value: bytes(key), expiresAt: soon })
    await mine.set({ key: 'kept', value: bytes('kept'), expiresAt: null })
    await theirs.set({ key: 'a', value: bytes('a'), expiresAt: soon })
    vi.setSystemTime(soon)
    expect(await mine.get('a')).toBeUndefined()
    const count = () => inspect(path).prepare('SELECT count(*) AS n FROM dcache_entries').get() as { n: number }
    expect(count().n).toBe(5)
    expect(await mine.prune()).toBe(3)
    expect(count().n).toBe(2)
    expect(text(await mine.get('kept'))).toBe('kept')
    expect(await theirs.prune()).toBe(1)
  })

  it('keeps the WAL file bounded under sustained writes, and the maintenance timer truncates it', async () => {
    const path = join(await tempDir('wal'), 'cache.sqlite')
    const cache = backend({ path, maintenanceInterval: 100 })
    const value = new Uint8Array(64 * 1024).fill(7)
    let largestWal = 0
    // 32 MiB through the WAL: without checkpoints it would grow to about that size.
    for (let i = 0; i < 512; i++) {
      await cache.set({ key: `k${i % 64}`, value, expiresAt: null })
      largestWal = Math.max(largestWal, statSync(`${path}-wal`).size)
    }
    expect(largestWal).toBeLessThan(6 * 1024 * 1024)
    await vi.waitFor(() => expect(statSync(`${path}-wal`).size).toBe(0), { timeout: 5_000, interval: 50 })
  })
})

describe('lifecycle', () => {
  it('closes a database it opened, and never one the caller passed in', async () => {
    const own = backend({ path: join(await tempDir('close'), 'cache.sqlite') })
    await own.set({ key: 'k', value: bytes('v'), expiresAt: null })
    await own.close()
    await expect(own.get('k')).rejects.toThrow(/closed/)

    const db = new Database(':memory:')
    opened.push(db)
    const borrowed = new SqliteBackend({ database: db })
    await borrowed.set({ key: 'k', value: bytes('v'), expiresAt: null })
    await borrowed.close()
    await borrowed.close()
    expect(db.open).toBe(true)
    expect(db.prepare('SELECT count(*) AS n FROM dcache_entries').get()).toEqual({ n: 1 })
  })
})
