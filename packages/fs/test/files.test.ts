import { createHash, randomBytes } from 'node:crypto'
import { chmod, chown, lstat, mkdir, readFile, rename, statfs, symlink, truncate, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { dcache, DcacheError, type ErrorEvent } from '@dcache/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FileSystemBackend, readModeForFilesystem } from '../src/index.js'
import { filesUnder, removeDirectory, temporaryDirectory } from './helpers.js'

const text = (value: string) => new TextEncoder().encode(value)
const AN_HOUR = 3_600_000
const READ_MODES = ['sync', 'async'] as const

let root: string
beforeEach(async () => {
  root = await temporaryDirectory('files')
})
afterEach(async () => {
  vi.useRealTimers()
  await removeDirectory(root)
})

/** The only entry file under `directory`, as an absolute path. */
async function onlyEntry(directory: string): Promise<string> {
  const files = (await filesUnder(path.join(directory, 'entries'))).filter((file) => !file.endsWith('.tmp'))
  expect(files).toHaveLength(1)
  return path.join(directory, 'entries', files[0]!)
}

describe('layout and permissions', () => {
  it('creates a missing directory 0700 and entry files 0600', async () => {
    const directory = path.join(root, 'a', 'cache')
    const backend = new FileSystemBackend({ directory })
    await backend.set({ key: 'k', value: text('v'), expiresAt: null })
    expect((await lstat(directory)).mode & 0o777).toBe(0o700)
    expect((await lstat(await onlyEntry(directory))).mode & 0o777).toBe(0o600)
  })

  it('names files by the key hash only, sharded as ab/cd/<sha-256>, so no key escapes the directory', async () => {
    const directory = path.join(root, 'cache')
    const backend = new FileSystemBackend({ directory })
    const keys = ['../../x', '/etc/passwd', 'Key', 'key', 'a/b', 'CON', 'nul', '..', '\u0000']
    for (const key of keys) await backend.set({ key, value: text(key), expiresAt: null })
    const files = await filesUnder(root)
    expect(files.filter((file) => file.startsWith(`cache${path.sep}entries${path.sep}`))).toHaveLength(keys.length)
    for (const file of files.filter((f) => f.includes('entries'))) {
      expect(file).toMatch(/^cache\/entries\/([0-9a-f]{2})\/([0-9a-f]{2})\/\1\2[0-9a-f]{60}$/)
    }
    for (const key of keys) expect((await backend.get(key))?.value).toEqual(text(key))
  })

  it('defaults to $XDG_CACHE_HOME/dcache, else ~/.cache/dcache', () => {
    vi.stubEnv('XDG_CACHE_HOME', root)
    expect(new FileSystemBackend().directory).toBe(path.join(root, 'dcache'))
    vi.stubEnv('XDG_CACHE_HOME', 'relative/ignored')
    expect(new FileSystemBackend().directory).toMatch(/\.cache\/dcache$/)
    vi.unstubAllEnvs()
  })

  it('rejects bad options with a DcacheTypeError naming them', () => {
    const bad = [
      { directory: '' },
      { maxBytes: 0 },
      { maxBytes: Number.NaN },
      { prefix: 1 },
      { fsync: 'yes' },
      { reads: 'fast' },
      { reads: true },
      { dir: '/tmp' },
    ]
    for (const options of bad) {
      expect(() => new FileSystemBackend(options as never)).toThrow(
        expect.objectContaining({ name: 'DcacheTypeError', code: 'E_INVALID_OPTION' }),
      )
    }
    expect(() => new FileSystemBackend({ dir: '/tmp' } as never)).toThrow(/unknown option "dir"/)
    expect(() => new FileSystemBackend({ reads: 'fast' } as never)).toThrow(/`reads` must be one of 'auto', 'sync', 'async'/)
  })

  it('writes with fsync when asked', async () => {
    const backend = new FileSystemBackend({ directory: root, fsync: true })
    await backend.set({ key: 'k', value: text('durable'), expiresAt: null })
    expect((await backend.get('k'))?.value).toEqual(text('durable'))
  })
})

describe('an unsafe directory disables the tier', () => {
  async function expectRefused(directory: string, reason: RegExp): Promise<void> {
    const backend = new FileSystemBackend({ directory })
    await expect(backend.get('k')).rejects.toThrow(reason)
    await expect(backend.set({ key: 'k', value: text('v'), expiresAt: null })).rejects.toThrow(reason)
    expect(await backend.health()).toMatchObject({ ok: false, reason: expect.stringMatching(reason) })
    // Through dcache: the function still answers, and the refusal is an error event.
    const errors: ErrorEvent[] = []
    let runs = 0
    const double = dcache({ backend, onEvent: (event) => event.type === 'error' && errors.push(event) })(async function double(n: number) {
      runs++
      return 2 * n
    })
    expect(await double(21)).toBe(42)
    expect(await double(21)).toBe(42)
    expect(runs).toBe(2)
    expect(double.cacheInfo().errors).toBeGreaterThan(0)
    expect(errors[0]?.error.message).toMatch(/\[dcache:fs\] get failed: refusing cache directory/)
    expect(DcacheError.is(errors[0]?.error, 'E_BACKEND')).toBe(true)
  }

  it('refuses a directory that is a symbolic link', async () => {
    await mkdir(path.join(root, 'real'), { mode: 0o700 })
    await symlink(path.join(root, 'real'), path.join(root, 'link'))
    await expectRefused(path.join(root, 'link'), /symbolic link/)
    expect(await filesUnder(path.join(root, 'real'))).toEqual([])
  })

  it('refuses a dangling symbolic link rather than creating its target', async () => {
    await symlink(path.join(root, 'nowhere'), path.join(root, 'dangling'))
    await expectRefused(path.join(root, 'dangling'), /symbolic link/)
    await expect(lstat(path.join(root, 'nowhere'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses a group- or world-writable directory', async () => {
    for (const mode of [0o777, 0o770]) {
      const directory = path.join(root, `mode-${mode.toString(8)}`)
      await mkdir(directory)
      await chmod(directory, mode)
      await expectRefused(directory, /writable by other users/)
    }
  })

  it("refuses a directory owned by another user", async (test) => {
    if (process.getuid?.() !== 0) {
      const reason = 'only root can chown a directory to another user'
      console.info(`[fs] skipped the other-owner check: ${reason}`)
      return test.skip(reason)
    }
    const directory = path.join(root, 'theirs')
    await mkdir(directory, { mode: 0o700 })
    await chown(directory, 4242, 4242)
    await expectRefused(directory, /owned by uid 4242/)
  })

  for (const reads of READ_MODES) {
    it(`never follows a symbolic link in place of an entry file (reads: '${reads}')`, async () => {
      const directory = path.join(root, 'cache')
      const backend = new FileSystemBackend({ directory, reads })
      await backend.set({ key: 'k', value: text('v'), expiresAt: null })
      const file = await onlyEntry(directory)
      const secret = path.join(root, 'secret')
      await writeFile(secret, 'do not touch')
      await rename(file, `${file}.moved`)
      await symlink(secret, file)
      let read: Promise<unknown> | undefined
      expect(() => (read = backend.get('k')), 'a failed read rejects, never throws').not.toThrow()
      await expect(read).rejects.toThrow(/symbolic link/)
      await backend.set({ key: 'k', value: text('new'), expiresAt: null })
      expect(await readFile(secret, 'utf8')).toBe('do not touch')
      expect((await lstat(file)).isFile()).toBe(true)
      expect((await backend.get('k'))?.value).toEqual(text('new'))
    })
  }

  it('does not descend into a symbolic link when sweeping', async () => {
    const directory = path.join(root, 'cache')
    const backend = new FileSystemBackend({ directory })
    await backend.set({ key: 'k', value: text('v'), expiresAt: null })
    const outside = path.join(root, 'outside')
    await mkdir(path.join(outside, 'cd'), { recursive: true })
    await writeFile(path.join(outside, 'cd', 'junk'), 'not an entry')
    await symlink(outside, path.join(directory, 'entries', 'zz'))
    await backend.prune()
    await backend.clear()
    expect(await readFile(path.join(outside, 'cd', 'junk'), 'utf8')).toBe('not an entry')
  })
})

for (const reads of READ_MODES) {
  describe(`damaged files are misses, counted in cacheInfo() (reads: '${reads}')`, () => {
    async function setUp() {
      const backend = new FileSystemBackend({ directory: root, reads })
      let runs = 0
      const square = dcache({ backend })(async function square(n: number) {
        runs++
        return n * n
      })
      expect(await square(7)).toBe(49)
      // The first write starts a background sweep, which would remove a damaged file: let it end.
      await backend.prune()
      return { backend, square, runs: () => runs, file: await onlyEntry(root) }
    }

    async function flipByte(file: string, at: (length: number) => number): Promise<void> {
      const bytes = await readFile(file)
      bytes[at(bytes.length)]! ^= 0x10
      await writeFile(file, bytes)
    }

    // Header damage is caught by the backend (an error event); value damage by the core's envelope.
    const damages = [
      { name: 'truncated inside the value', damage: async (file: string) => truncate(file, (await lstat(file)).size - 10), counter: 'integrityFailures' },
      { name: 'truncated inside the header', damage: (file: string) => truncate(file, 10), counter: 'errors' },
      { name: 'with a bit flipped in the value', damage: (file: string) => flipByte(file, (n) => n - 6), counter: 'integrityFailures' },
      { name: 'with a bit flipped in the header', damage: (file: string) => flipByte(file, () => 25), counter: 'errors' },
      { name: 'emptied', damage: (file: string) => truncate(file, 0), counter: 'errors' },
    ] as const

    for (const { name, damage, counter } of damages) {
      it(`a file ${name} is a miss, then rewritten`, async () => {
        const { square, runs, file } = await setUp()
        await damage(file)
        const before = square.cacheInfo()
        expect(await square(7)).toBe(49)
        expect(runs()).toBe(2)
        expect(square.cacheInfo()[counter] - before[counter]).toBe(1)
        expect(square.cacheInfo().integrityFailures + square.cacheInfo().errors).toBe(1)
        expect(await square(7)).toBe(49)
        expect(runs(), 'the entry was rewritten').toBe(2)
      })
    }

    it('a file swapped with another entry is a miss for both keys', async () => {
      const { square, runs, file } = await setUp()
      await square(8)
      const files = (await filesUnder(path.join(root, 'entries'))).map((f) => path.join(root, 'entries', f))
      const other = files.find((f) => f !== file)!
      await rename(file, `${file}.swap`)
      await rename(other, file)
      await rename(`${file}.swap`, other)
      expect([await square(7), await square(8)]).toEqual([49, 64])
      expect(runs()).toBe(4)
      expect(square.cacheInfo().errors).toBe(2)
    })
  })
}

describe('clear', () => {
  it("leaves another writer's temp file alone", async () => {
    const backend = new FileSystemBackend({ directory: root })
    await backend.set({ key: 'k', value: text('v'), expiresAt: null })
    const file = await onlyEntry(root)
    // What a writer's temp file holds just before its rename: a complete entry of this prefix.
    const temp = `${file}.${process.pid}.abcd.tmp`
    await writeFile(temp, await readFile(file))
    await backend.clear()
    expect(await backend.get('k')).toBeUndefined()
    await expect(lstat(temp)).resolves.toBeDefined()
  })
})

describe('expiry, prune and maxBytes', () => {
  it('stores nothing for an expiresAt in the past, and removes the previous entry', async () => {
    const backend = new FileSystemBackend({ directory: root })
    await backend.set({ key: 'k', value: text('v'), expiresAt: null })
    await backend.set({ key: 'k', value: text('old'), expiresAt: Date.now() - 1 })
    expect(await backend.get('k')).toBeUndefined()
    expect(await filesUnder(path.join(root, 'entries'))).toEqual([])
  })

  it('prune() removes expired entries, corrupt files and orphaned temp files, and keeps the rest', async () => {
    const backend = new FileSystemBackend({ directory: root })
    await backend.set({ key: 'live', value: text('v'), expiresAt: Date.now() + AN_HOUR })
    await backend.set({ key: 'forever', value: text('v'), expiresAt: null })
    await backend.set({ key: 'expiring', value: text('v'), expiresAt: Date.now() + 1_000 })
    const shard = path.join(root, 'entries', '00', '00')
    await mkdir(shard, { recursive: true })
    // Above Linux's largest pid_max (2^22): no such process can be running.
    const deadWriter = path.join(shard, `${'0'.repeat(64)}.${2 ** 22 + 1}.aaaa.tmp`)
    const inFlight = path.join(shard, `${'1'.repeat(64)}.${process.pid}.bbbb.tmp`)
    const stale = path.join(shard, `${'2'.repeat(64)}.${process.pid}.cccc.tmp`)
    for (const file of [deadWriter, inFlight, stale]) await writeFile(file, 'partial')
    await utimes(stale, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000))
    await writeFile(path.join(shard, '3'.repeat(64)), 'garbage')

    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 2_000)
    expect(await backend.prune()).toBe(1)
    vi.useRealTimers()
    const left = await filesUnder(path.join(root, 'entries'))
    expect(left.filter((file) => file.endsWith('.tmp'))).toEqual([path.relative(path.join(root, 'entries'), inFlight)])
    expect(left.filter((file) => !file.endsWith('.tmp'))).toHaveLength(2)
    expect(await backend.get('live')).toBeDefined()
    expect(await backend.get('forever')).toBeDefined()
  })

  it('prune() evicts the least recently used entries beyond maxBytes', async () => {
    const writer = new FileSystemBackend({ directory: root, maxBytes: Infinity })
    const names = Array.from({ length: 20 }, (_, i) => `entry-${i}`)
    const anHourAgo = Date.now() / 1000 - 3_600
    for (const [i, name] of names.entries()) {
      await writer.set({ key: name, value: new Uint8Array(1_000), expiresAt: null })
      // Written a minute apart, oldest first.
      await utimes(entryFile(root, name), anHourAgo + 60 * i, anHourAgo + 60 * i)
    }
    const reader = new FileSystemBackend({ directory: root, maxBytes: 10_000 })
    for (const name of names.slice(0, 3)) expect(await reader.get(name)).toBeDefined()
    await reader.prune()
    // About 1 030 bytes a file: eviction stops at 90 % of maxBytes, so 8 of 20 stay.
    const kept = []
    for (const name of names) if (await writer.get(name)) kept.push(name)
    expect(kept).toEqual([...names.slice(0, 3), ...names.slice(15)])
  })

  it('evicts on its own, in the background, once writes pass maxBytes', async () => {
    const backend = new FileSystemBackend({ directory: root, maxBytes: 20_000 })
    for (let i = 0; i < 100; i++) await backend.set({ key: `k${i}`, value: new Uint8Array(1_000), expiresAt: null })
    const totalBytes = async () => {
      let total = 0
      for (const file of await filesUnder(path.join(root, 'entries'))) total += (await lstat(path.join(root, 'entries', file))).size
      return total
    }
    await vi.waitFor(async () => expect(await totalBytes()).toBeLessThanOrEqual(20_000), { timeout: 10_000, interval: 20 })
    expect(await backend.get('k99'), 'the newest entry stays').toBeDefined()
    await backend.close()
  })
})

describe('locks', () => {
  it('gives a stale lock to exactly one of 50 concurrent callers', async () => {
    const backend = new FileSystemBackend({ directory: root })
    const others = Array.from({ length: 5 }, () => new FileSystemBackend({ directory: root }))
    expect(await backend.locks.tryAcquire('job', 1)).toBeTypeOf('string')
    const acquiredAt = Date.now()
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(acquiredAt + 1))
    const tokens = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? backend : others[i % 5]!).locks.tryAcquire('job', AN_HOUR)),
    )
    expect(tokens.filter((token) => token !== undefined)).toHaveLength(1)
  })

  it('keeps locks of different prefixes apart', async () => {
    const left = new FileSystemBackend({ directory: root, prefix: 'left:' })
    const right = new FileSystemBackend({ directory: root, prefix: 'right:' })
    expect(await left.locks.tryAcquire('job', AN_HOUR)).toBeTypeOf('string')
    expect(await right.locks.tryAcquire('job', AN_HOUR)).toBeTypeOf('string')
  })

  it('prune() removes released and expired locks, and keeps held ones', async () => {
    const backend = new FileSystemBackend({ directory: root })
    const released = await backend.locks.tryAcquire('released', AN_HOUR)
    await backend.locks.release('released', released!)
    await backend.locks.tryAcquire('expired', 1)
    await backend.locks.tryAcquire('held', AN_HOUR)
    const acquiredAt = Date.now()
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(acquiredAt + 1))
    await backend.prune()
    expect(await filesUnder(path.join(root, 'locks'))).toHaveLength(1)
    expect(await backend.locks.tryAcquire('held', AN_HOUR)).toBeUndefined()
    expect(await backend.locks.tryAcquire('expired', AN_HOUR)).toBeTypeOf('string')
  })

  it('rejects a ttl that is not a positive number of milliseconds', async () => {
    const backend = new FileSystemBackend({ directory: root })
    for (const ttl of [0, -1, Number.NaN, Infinity]) {
      await expect(backend.locks.tryAcquire('job', ttl)).rejects.toThrow(/ttl must be a positive/)
    }
  })
})

describe('reads', () => {
  it("picks 'async' for network, cluster and FUSE filesystems and 'sync' for local ones", () => {
    const network = {
      nfs: 0x6969,
      smb: 0x517b,
      cifs: 0xff534d42,
      smb2: 0xfe534d42,
      fuse: 0x65735546,
      '9p': 0x01021997,
      ceph: 0x00c36400,
      lustre: 0x0bd00bd0,
      openafs: 0x5346414f,
      kafs: 0x6b414653,
      coda: 0x73757245,
      ncp: 0x564c,
      gpfs: 0x47504653,
      beegfs: 0x19830326,
      gfs2: 0x01161970,
      ocfs2: 0x7461636f,
    }
    const local = { ext4: 0xef53, tmpfs: 0x01021994, xfs: 0x58465342, btrfs: 0x9123683e, overlayfs: 0x794c7630, zfs: 0x2fc12fc1 }
    for (const [name, type] of Object.entries(network)) expect(readModeForFilesystem(type), name).toBe('async')
    for (const [name, type] of Object.entries(local)) expect(readModeForFilesystem(type), name).toBe('sync')
    // statfs({ bigint: true }) on a 32-bit system: CIFS's f_type sign-extended to 64 bits.
    expect(readModeForFilesystem(BigInt.asUintN(64, BigInt(0xff534d42 | 0)))).toBe('async')
    expect(readModeForFilesystem(0xff534d42 | 0)).toBe('async')
    expect(readModeForFilesystem(BigInt(0xef53))).toBe('sync')
  })

  it("'auto' reads a local temp directory synchronously, decided when the directory is opened", async () => {
    expect(readModeForFilesystem((await statfs(root)).type), 'the temp directory is on a local filesystem').toBe('sync')
    const backend = new FileSystemBackend({ directory: root })
    expect(backend.readMode).toBeUndefined()
    expect(await backend.health()).toMatchObject({ ok: true })
    expect(backend.readMode).toBe('sync')
    expect(new FileSystemBackend({ directory: root, reads: 'async' }).readMode).toBe('async')
    expect(new FileSystemBackend({ directory: root, reads: 'sync' }).readMode).toBe('sync')
  })

  // Header of key 'k' without prefix: 25 bytes. Around the first read (16 KiB) and the sync cap (64 KiB).
  const fileSizes = [25, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 64 * 1024, 64 * 1024 + 1, 1024 * 1024 + 25]
  for (const reads of READ_MODES) {
    it(`round-trips values of every size byte-exact, up to 1 MiB (reads: '${reads}')`, async () => {
      const backend = new FileSystemBackend({ directory: root, reads })
      for (const size of fileSizes) {
        const value = randomBytes(size - 25)
        await backend.set({ key: 'k', value, expiresAt: null })
        expect((await lstat(await onlyEntry(root))).size).toBe(size)
        const entry = await backend.get('k')
        expect(entry?.value.byteLength, `file of ${size} bytes`).toBe(value.byteLength)
        expect(Buffer.from(entry!.value).equals(value), `file of ${size} bytes`).toBe(true)
      }
    })

    it(`gives every caller its own copy of the value, also when reads overlap (reads: '${reads}')`, async () => {
      const backend = new FileSystemBackend({ directory: root, reads })
      const keys = ['small', 'large', 'medium', 'tiny']
      const values = [randomBytes(100), randomBytes(1024 * 1024), randomBytes(40 * 1024), randomBytes(1)]
      for (const [i, key] of keys.entries()) await backend.set({ key, value: values[i]!, expiresAt: null })
      // The large read finishes in the thread pool while the others reuse the first-read buffer.
      const entries = await backend.getMany([...keys, ...keys])
      for (const [i, entry] of entries.entries()) expect(Buffer.from(entry!.value).equals(values[i % keys.length]!), keys[i % keys.length]).toBe(true)
      entries[0]!.value.fill(0)
      expect(Buffer.from(entries[4]!.value).equals(values[0]!)).toBe(true)
      expect(Buffer.from((await backend.get('small'))!.value).equals(values[0]!)).toBe(true)
    })

    it(`reads a missing or expired entry as a miss (reads: '${reads}')`, async () => {
      const backend = new FileSystemBackend({ directory: root, reads })
      expect(await backend.get('absent')).toBeUndefined()
      await backend.set({ key: 'brief', value: text('v'), expiresAt: Date.now() + 1_000 })
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 2_000)
      expect(await backend.get('brief')).toBeUndefined()
      expect(await backend.getMany(['absent', 'brief'])).toEqual([undefined, undefined])
    })
  }
})

/** Where an entry of an unprefixed instance lives (the layout the first tests check). */
function entryFile(directory: string, key: string): string {
  const hash = createHash('sha256').update('0:').update(key).digest('hex')
  return path.join(directory, 'entries', hash.slice(0, 2), hash.slice(2, 4), hash)
}
