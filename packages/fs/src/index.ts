/**
 * `FileSystemBackend`: an embedded persistent dcache tier of files, one file per entry, shared by
 * every process on a machine and safe when many of them read and write the same directory.
 *
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, lstat, lutimes, mkdir, rename, unlink } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  DcacheTypeError,
  type BackendCapabilities,
  type BackendHealth,
  type CacheBackend,
  type ClearOptions,
  type EntryToStore,
  type LocksFacet,
  type OperationOptions,
  type StoredEntry,
} from '@dcache/core'
import { encodeEntry, parseHeader, readEntry, readEntrySync, readHeader } from './entry-file.js'
import { createFile, ignore, removeFile, syncDirectory } from './files.js'
import { acquireLock, extendLock, releaseLock } from './lock-files.js'
import { readModeForFilesystem, readModeOf, type FileSystemReadMode } from './read-mode.js'
import { eachEntry, sweepDirectory } from './sweep.js'

export { readModeForFilesystem, type FileSystemReadMode }

/** Options of {@link FileSystemBackend}. Durations are milliseconds, sizes bytes. */
export interface FileSystemBackendOptions {
  /**
   * The cache directory, private to the current user: created with mode 0700 when missing, and
   * refused (the tier is disabled) when it is a symbolic link, owned by another user, or group-
   * or world-writable. Every instance on the same directory shares its entries.
   * @default `$XDG_CACHE_HOME/dcache`, else `~/.cache/dcache`
   */
  readonly directory?: string
  /**
   * Most bytes the directory holds, counted as the sum of entry file sizes. Beyond it the least
   * recently used entries are evicted by a background sweep, so the directory can briefly
   * exceed it. `Infinity` turns eviction off.
   * @default 536_870_912 (512 MiB)
   */
  readonly maxBytes?: number
  /**
   * Scopes this instance's keys: instances with different prefixes on one directory do not see
   * or clear each other's entries.
   * @default ''
   */
  readonly prefix?: string
  /**
   * `fsync` each entry (and its directory) before publishing it, so it survives a power loss.
   * Without it a crash of the machine can lose recent entries, never serve a torn one.
   * @default false
   */
  readonly fsync?: boolean
  /**
   * How `get` reads entry files. `'sync'`: open, read and close on the event loop, a few
   * microseconds for a file in the page cache (less than one trip to libuv's thread pool), but
   * the loop waits for the disk; a file over 64 KiB has all but its first 16 KiB read in the
   * thread pool. `'async'`: in the thread pool, never blocking the loop. `'auto'`: decided when
   * the instance opens its directory, `'async'` on network, cluster and FUSE filesystems (see
   * {@link readModeForFilesystem}), on systems other than Linux and when `statfs` fails,
   * `'sync'` otherwise. {@link FileSystemBackend.readMode} tells which one is in use.
   * @default 'auto'
   */
  readonly reads?: 'auto' | FileSystemReadMode
}

const CAPABILITIES: BackendCapabilities = Object.freeze({
  nativeExpiry: false,
  expiryResolution: 1,
  // The key is stored inside the file, not in its name, so any length works; this keeps headers small.
  maxKeyBytes: 4096,
  nativeBatch: false,
})

const OPTION_NAMES = new Set(['directory', 'maxBytes', 'prefix', 'fsync', 'reads'])
const READS = ['auto', 'sync', 'async'] as const
const DEFAULT_MAX_BYTES = 512 * 1024 * 1024
/** A process sweeps on its first write unless some process swept this recently. */
const SWEEP_EVERY_MS = 60_000
/** Recency is recorded at this granularity, so a hot entry costs one metadata write a minute. */
const TOUCH_EVERY_MS = 60_000
/** Files read at once by getMany, well under the usual descriptor limit. */
const BATCH = 64

/**
 * An embedded persistent tier: one file per entry under a per-user directory, shared by every
 * process on the machine. Writes are atomic (temp file, then `rename`), so a reader sees the old
 * entry, the new one, or a miss, never a mix. Expiry is checked on read; {@link prune} and a
 * background sweep remove expired entries and orphaned temp files and enforce `maxBytes`
 * (least recently used first). Symbolic links are never followed. It has a `locks` facet for
 * cross-process single-flight.
 *
 * @example
 * ```ts
 * import { dcache, InMemoryBackend } from '@dcache/core'
 * import { FileSystemBackend } from '@dcache/fs'
 *
 * const cache = dcache({ multiple: [new InMemoryBackend(), new FileSystemBackend()], ttl: 3_600_000 })
 * const render = cache(async function render(page: string) { return slowRender(page) })
 * ```
 */
export class FileSystemBackend implements CacheBackend {
  /** Backend contract version. */
  readonly contract = 1 as const
  /** Slug used in errors and events. */
  readonly name = 'fs'
  /** Expiry checked on read, 1 ms resolution; keys up to 4096 bytes. */
  readonly capabilities: BackendCapabilities = CAPABILITIES
  /** The cache directory, absolute. */
  readonly directory: string
  /** Byte limit of the directory, or `Infinity`. */
  readonly maxBytes: number
  /** The key prefix of this instance. */
  readonly prefix: string
  /** Cross-process locks with a ttl; a stale lock is taken over by exactly one process. */
  readonly locks: Required<Pick<LocksFacet, 'tryAcquire' | 'release' | 'extend'>>

  readonly #fsync: boolean
  #readMode: FileSystemReadMode | undefined
  readonly #entries: string
  readonly #lockRoot: string
  /** Its mtime says when some process last swept the directory. */
  readonly #marker: string
  /** Hashed before every key, length first, so prefix `a` + key `bc` differs from `ab` + `c`. */
  readonly #identity: string
  #ready = false
  #opening: Promise<void> | undefined
  #refused: Error | undefined
  #sweeping: Promise<number> | undefined
  readonly #stopSweep = new AbortController()
  #sweptOnce = false
  #writtenSinceSweep = 0
  readonly #touched = new Map<string, number>()

  constructor(options: FileSystemBackendOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
    for (const name of Object.keys(options)) {
      if (!OPTION_NAMES.has(name)) throw invalid(`unknown option "${name}"; known: ${[...OPTION_NAMES].join(', ')}`)
    }
    const { directory, maxBytes = DEFAULT_MAX_BYTES, prefix = '', fsync = false, reads = 'auto' } = options
    if (directory !== undefined && (typeof directory !== 'string' || directory === '')) {
      throw invalid('`directory` must be a non-empty string')
    }
    if (typeof maxBytes !== 'number' || !(maxBytes > 0)) throw invalid('`maxBytes` must be a positive number of bytes (or Infinity)')
    if (typeof prefix !== 'string') throw invalid('`prefix` must be a string')
    if (typeof fsync !== 'boolean') throw invalid('`fsync` must be a boolean')
    if (!READS.includes(reads)) throw invalid(`\`reads\` must be one of ${READS.map((mode) => `'${mode}'`).join(', ')}`)
    this.directory = path.resolve(directory ?? defaultDirectory())
    this.maxBytes = maxBytes
    this.prefix = prefix
    this.#fsync = fsync
    this.#readMode = reads === 'auto' ? undefined : reads
    this.#entries = path.join(this.directory, 'entries')
    this.#lockRoot = path.join(this.directory, 'locks')
    this.#marker = path.join(this.directory, '.swept')
    this.#identity = `${prefix.length}:${prefix}`
    this.locks = {
      tryAcquire: (key, ttl, o) => this.#tryAcquire(key, ttl, o),
      release: (key, token, o) => this.#release(key, token, o),
      extend: (key, token, ttl, o) => this.#extend(key, token, ttl, o),
    }
  }

  /**
   * How `get` reads entry files: the `reads` option, or what `'auto'` chose for the directory's
   * filesystem. `undefined` with `'auto'` until the directory is opened, which the first
   * operation does (`await backend.health()` does it on purpose).
   */
  get readMode(): FileSystemReadMode | undefined {
    return this.#readMode
  }

  /**
   * Read one entry: `undefined` when absent or expired. Rejects on a corrupt or foreign file.
   * Reads on the event loop or in the thread pool, as {@link readMode} says.
   */
  async get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined> {
    options?.signal?.throwIfAborted()
    if (!this.#ready) await this.#open()
    const file = this.#fileOf(key)
    const read = this.#readMode === 'sync' ? readEntrySync(file) : readEntry(file)
    const bytes = read instanceof Promise ? await read : read
    if (bytes === undefined) return undefined
    // From here to the copy of the value nothing awaits: `bytes` may be the shared read buffer.
    const header = parseHeader(bytes, bytes.length)
    if (typeof header === 'string') throw new Error(`corrupt entry file ${file}: ${header}`)
    // Another key here means a swapped or copied file (a SHA-256 collision is not a concern).
    if (header.prefix !== this.prefix || header.key !== key) throw new Error(`entry file ${file} holds another key`)
    if (header.expiresAt !== null && header.expiresAt <= Date.now()) return undefined
    const value = new Uint8Array(bytes.length - header.valueOffset)
    value.set(bytes.subarray(header.valueOffset))
    if (this.maxBytes !== Infinity) await this.#touch(file)
    return { value, expiresAt: header.expiresAt }
  }

  /** Read many entries, one slot per key, in order. */
  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(StoredEntry | undefined)[]> {
    options?.signal?.throwIfAborted()
    const entries: (StoredEntry | undefined)[] = []
    for (let i = 0; i < keys.length; i += BATCH) {
      entries.push(...(await Promise.all(keys.slice(i, i + BATCH).map((key) => this.get(key, options)))))
    }
    return entries
  }

  /**
   * Store an entry atomically: a fresh temp file (`O_EXCL`), written in full, optionally synced,
   * then renamed over the entry's file. A failed or aborted write leaves the previous entry.
   */
  async set(entry: EntryToStore, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (!this.#ready) await this.#open()
    const file = this.#fileOf(entry.key)
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) return removeFile(file)
    const bytes = encodeEntry(this.prefix, entry)
    const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    const handle = await createFile(temp)
    try {
      await handle.writeFile(bytes)
      if (this.#fsync) await handle.datasync()
      await handle.close()
      options?.signal?.throwIfAborted()
      await rename(temp, file)
    } catch (error) {
      await handle.close().catch(ignore)
      await unlink(temp).catch(ignore)
      throw error
    }
    if (this.#fsync) await syncDirectory(path.dirname(file))
    this.#wrote(bytes.length)
  }

  /** Remove an entry; removing an absent one succeeds. */
  async delete(key: string, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (!this.#ready) await this.#open()
    await removeFile(this.#fileOf(key))
  }

  /**
   * Remove this instance's entries (those of its `prefix`), or only those whose key starts with
   * `options.prefix`. Reads the key stored in each file, so it takes time proportional to the
   * directory.
   */
  async clear(options?: ClearOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (!this.#ready) await this.#open()
    const start = options?.prefix ?? ''
    await eachEntry(this.#entries, options?.signal, async (file, name) => {
      // Another writer's temp file becomes an entry by its rename, or is swept when orphaned.
      if (name.endsWith('.tmp')) return
      const header = await readHeader(file)
      if (typeof header === 'object' && header.prefix === this.prefix && header.key.startsWith(start)) await removeFile(file)
    })
  }

  /**
   * Remove expired entries, corrupt files and temp files orphaned by a crashed writer, then evict
   * least recently used entries beyond `maxBytes`. Covers the whole directory, every prefix.
   * Runs on its own in the background now and then; call it to do it now.
   * @returns how many expired entries were removed
   */
  async prune(options?: OperationOptions): Promise<number> {
    options?.signal?.throwIfAborted()
    if (!this.#ready) await this.#open()
    // A sweep under way may have walked past files written since: let it end, then sweep afresh.
    await this.#sweeping?.catch(ignore)
    return this.#sweep(options?.signal)
  }

  /** `ok` when the directory passed its checks and is writable. */
  async health(options?: OperationOptions): Promise<BackendHealth> {
    options?.signal?.throwIfAborted()
    const started = performance.now()
    try {
      if (!this.#ready) await this.#open()
      await access(this.#entries, constants.W_OK)
      return { ok: true, latencyMs: performance.now() - started }
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, reason: error instanceof Error ? error.message : String(error) }
    }
  }

  /** Stop a background sweep and wait for it. Idempotent; nothing else is held open. */
  async close(): Promise<void> {
    this.#stopSweep.abort()
    await this.#sweeping?.catch(ignore)
  }

  // ---- directory ------------------------------------------------------------------------------

  #open(): Promise<void> {
    if (this.#refused) return Promise.reject(this.#refused)
    this.#opening ??= this.#prepare().then(
      () => {
        this.#ready = true
      },
      (error: unknown) => {
        // A refused directory stays refused; anything else (EACCES, ENOSPC) is retried next call.
        this.#opening = undefined
        throw error
      },
    )
    return this.#opening
  }

  async #prepare(): Promise<void> {
    for (const directory of [this.directory, this.#entries, this.#lockRoot]) {
      await mkdir(directory, { recursive: true, mode: 0o700 }).catch(async (error: unknown) => {
        // Something in the way (a dangling symlink, a file) is explained by the check that follows.
        if ((await lstat(directory).catch(() => undefined)) === undefined) throw error
      })
      await this.#check(directory)
    }
    this.#readMode ??= await readModeOf(this.#entries)
  }

  async #check(directory: string): Promise<void> {
    const stat = await lstat(directory)
    const uid = process.getuid?.()
    let problem: string | undefined
    if (stat.isSymbolicLink()) problem = 'it is a symbolic link'
    else if (!stat.isDirectory()) problem = 'it is not a directory'
    else if (uid !== undefined && stat.uid !== uid) problem = `it is owned by uid ${stat.uid}, not by this process's uid ${uid}`
    else if ((stat.mode & 0o022) !== 0) problem = `it is writable by other users (mode ${(stat.mode & 0o777).toString(8)})`
    if (problem === undefined) return
    this.#refused = new Error(
      `refusing cache directory ${directory}: ${problem}; the fs tier is disabled. ` +
        'Use a directory of your own with mode 0700 (the default is per user).',
    )
    throw this.#refused
  }

  #fileOf(key: string): string {
    const hash = createHash('sha256').update(this.#identity).update(key).digest('hex')
    return `${this.#entries}${path.sep}${hash.slice(0, 2)}${path.sep}${hash.slice(2, 4)}${path.sep}${hash}`
  }

  /** Record a read for LRU eviction: the file's mtime is its last use, at minute granularity. */
  async #touch(file: string): Promise<void> {
    const now = Date.now()
    const last = this.#touched.get(file)
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return
    if (this.#touched.size >= 10_000) this.#touched.clear()
    this.#touched.set(file, now)
    await lutimes(file, now / 1000, now / 1000).catch(ignore)
  }

  // ---- maintenance ----------------------------------------------------------------------------

  /** After the first write, and after each eighth of `maxBytes` written, sweep in the background. */
  #wrote(bytes: number): void {
    this.#writtenSinceSweep += bytes
    this.#maybeSweep()
  }

  #maybeSweep(): void {
    if (this.#sweeping !== undefined || this.#stopSweep.signal.aborted) return
    const overBudget = this.#writtenSinceSweep > this.maxBytes / 8
    if (this.#sweptOnce && !overBudget) return
    this.#sweptOnce = true
    void (overBudget ? this.#sweep(this.#stopSweep.signal) : this.#sweepUnlessRecent()).catch(ignore)
  }

  /** A process's first write sweeps, unless another process did within the last minute. */
  async #sweepUnlessRecent(): Promise<number> {
    const last = await lstat(this.#marker).catch(() => undefined)
    const recent = last !== undefined && Date.now() - last.mtimeMs < SWEEP_EVERY_MS
    return recent || this.#stopSweep.signal.aborted ? 0 : this.#sweep(this.#stopSweep.signal)
  }

  /** One pass over the directory, shared by concurrent callers; again if writes meanwhile call for it. */
  #sweep(signal: AbortSignal | undefined): Promise<number> {
    this.#sweeping ??= this.#sweepOnce(signal).finally(() => {
      this.#sweeping = undefined
      this.#maybeSweep()
    })
    return this.#sweeping
  }

  #sweepOnce(signal: AbortSignal | undefined): Promise<number> {
    this.#writtenSinceSweep = 0
    return sweepDirectory({ entries: this.#entries, lockRoot: this.#lockRoot, marker: this.#marker }, this.maxBytes, signal)
  }

  // ---- locks ----------------------------------------------------------------------------------
  //
  // Each key's lock is a directory under locks/, named by the key's hash; lock-files.ts says how
  // its state is kept and changed.

  async #tryAcquire(key: string, ttl: number, options?: OperationOptions): Promise<string | undefined> {
    checkTtl(ttl)
    options?.signal?.throwIfAborted()
    if (!this.#ready) await this.#open()
    return acquireLock(this.#lockOf(key), ttl)
  }

  async #release(key: string, token: string, options?: OperationOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    if (!this.#ready) await this.#open()
    return releaseLock(this.#lockOf(key), token)
  }

  async #extend(key: string, token: string, ttl: number, options?: OperationOptions): Promise<boolean> {
    checkTtl(ttl)
    options?.signal?.throwIfAborted()
    if (!this.#ready) await this.#open()
    return extendLock(this.#lockOf(key), token, ttl)
  }

  #lockOf(key: string): string {
    return path.join(this.#lockRoot, createHash('sha256').update(this.#identity).update(key).digest('hex'))
  }
}

function defaultDirectory(): string {
  const xdg = process.env['XDG_CACHE_HOME']
  // The XDG spec says to ignore a relative path.
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache')
  return path.join(base, 'dcache')
}

function checkTtl(ttl: number): void {
  if (typeof ttl !== 'number' || !(ttl > 0) || !Number.isFinite(ttl)) throw invalid('lock ttl must be a positive, finite number of milliseconds')
}

function invalid(message: string): DcacheTypeError {
  return new DcacheTypeError('E_INVALID_OPTION', `FileSystemBackend: ${message}`)
}
