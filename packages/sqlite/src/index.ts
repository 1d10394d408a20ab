/**
 * `@dcache/sqlite`: an embedded, persistent dcache tier in one SQLite file, shared by every process
 * on the machine, on better-sqlite3.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join } from 'node:path'
import type {
  BackendCapabilities,
  BackendHealth,
  CacheBackend,
  ClearOptions,
  EntryToStore,
  LocksFacet,
  OperationOptions,
  StoredEntry,
} from '@dcache/core'
import { DcacheTypeError } from '@dcache/core'
import Database from 'better-sqlite3'

/** A prepared statement: the part of a better-sqlite3 `Statement` this backend uses. */
export interface SqliteStatement {
  /** Executes the statement; `changes` is the number of rows it inserted, updated or deleted. */
  run(...params: unknown[]): { readonly changes: number }
  /** The first result row, or `undefined`. */
  get(...params: unknown[]): unknown
  /** Every result row. */
  all(...params: unknown[]): unknown[]
}

/**
 * The part of a better-sqlite3 `Database` this backend uses. Any better-sqlite3 `Database`
 * fits; the type is structural so that this package's types need no `@types/better-sqlite3`.
 */
export interface SqliteDatabase {
  /** The file name the database was opened with. */
  readonly name: string
  /** Whether a transaction is open on this connection. */
  readonly inTransaction: boolean
  /** Compiles one SQL statement. */
  prepare(sql: string): SqliteStatement
  /** Runs SQL without results (schema, pragmas). */
  exec(sql: string): unknown
  /** Closes the connection; called only on a connection the backend opened itself. */
  close(): unknown
}

/** Options of {@link SqliteBackend}. Durations are milliseconds. */
export interface SqliteBackendOptions {
  /**
   * The database file, created with its directory (mode 0700) when missing. Every process that
   * uses the same file shares the cache. Not with `database`.
   * @default `$XDG_CACHE_HOME/dcache/cache.sqlite`, else `~/.cache/dcache/cache.sqlite`
   */
  readonly path?: string
  /**
   * Your own better-sqlite3 connection, used instead of opening `path`. Its journal mode and busy
   * timeout are left as they are (unless `busyTimeout` is given), and `close()` never closes it.
   */
  readonly database?: SqliteDatabase
  /**
   * The table that holds the entries; locks go in `<table>_locks`. An SQL identifier: letters,
   * digits and `_`, not starting with a digit or `sqlite_`, at most 64 characters.
   * @default 'dcache_entries'
   */
  readonly table?: string
  /**
   * Prepended to every key (and lock name), so several caches can share one table; `clear()`
   * then removes only this prefix's entries.
   * @default ''
   */
  readonly prefix?: string
  /**
   * How long an operation waits for a lock held by another connection before it rejects with
   * `SQLITE_BUSY` (a miss or a skipped write). better-sqlite3 is synchronous, so this is also the
   * longest the event loop can be blocked by a locked database: keep it below the tier's
   * `timeout`. An integer in milliseconds.
   * @default 50
   */
  readonly busyTimeout?: number
  /**
   * How often (milliseconds) expired rows are removed, up to 1 000 at a time, and the WAL is
   * checkpointed and truncated (waiting at most `busyTimeout` for other processes). `0` turns it
   * off. The timer never keeps the process alive.
   * @default 30_000
   */
  readonly maintenanceInterval?: number
}

interface Row {
  readonly key: string
  readonly value: Uint8Array
  readonly expires_at: number | null
}

/** The statements of one open connection, prepared once. */
interface Statements {
  readonly db: SqliteDatabase
  readonly get: SqliteStatement
  readonly getMany: SqliteStatement
  readonly set: SqliteStatement
  readonly delete: SqliteStatement
  readonly deleteMany: SqliteStatement
  readonly clear: SqliteStatement
  readonly prune: SqliteStatement
  readonly pruneSome: SqliteStatement
  readonly checkpoint: SqliteStatement
  readonly health: SqliteStatement
  readonly acquire: SqliteStatement
  readonly release: SqliteStatement
  readonly extend: SqliteStatement
  readonly begin: SqliteStatement
  readonly commit: SqliteStatement
  readonly rollback: SqliteStatement
}

const IDENTIFIER = /^(?!sqlite_)[A-Za-z_][A-Za-z0-9_]{0,63}$/i
const DEFAULT_BUSY_TIMEOUT = 50
const MAX_BUSY_TIMEOUT = 2 ** 31 - 1
const PRUNE_BATCH = 1_000
const WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024

/**
 * A persistent cache tier in an SQLite database, shared by every process that opens the same
 * file: workers, CLI runs, CI jobs. WAL mode lets readers run while another process writes;
 * expiry is checked on read, and `prune()` (or the maintenance timer) removes expired rows.
 *
 * The connection is opened on first use, so a database that cannot be opened or is locked makes
 * operations reject (a miss for dcache) rather than the constructor throw; a later call retries.
 *
 * @example
 * ```ts
 * import { dcache, InMemoryBackend } from '@dcache/core'
 * import { SqliteBackend } from '@dcache/sqlite'
 *
 * const render = dcache({ multiple: [new InMemoryBackend(), new SqliteBackend()], ttl: 3_600_000 })(
 *   async function render(page: string) { return slowRender(page) },
 * )
 * ```
 */
export class SqliteBackend implements CacheBackend {
  /** {@inheritDoc CacheBackend.contract} */
  readonly contract = 1
  /** {@inheritDoc CacheBackend.name} */
  readonly name = 'sqlite'
  /** Expiry checked on read, to the millisecond; keys up to 1 024 bytes; one-statement batches. */
  readonly capabilities: BackendCapabilities = {
    nativeExpiry: false,
    expiryResolution: 1,
    maxKeyBytes: 1024,
    nativeBatch: true,
  }
  /** Cross-process locks in the `<table>_locks` table. */
  readonly locks: LocksFacet
  /** The database file (for a connection passed as `database`, its `name`). */
  readonly path: string

  readonly #table: string
  readonly #prefix: string
  readonly #busyTimeout: number | undefined
  readonly #given: SqliteDatabase | undefined
  readonly #maintenance: NodeJS.Timeout | undefined
  #open: Statements | undefined
  #closed = false

  constructor(options: SqliteBackendOptions = {}) {
    const { database, path, table = 'dcache_entries', prefix = '', busyTimeout, maintenanceInterval = 30_000 } = options
    if (database !== undefined && path !== undefined) invalid('give either path or database, not both')
    if (path !== undefined && (typeof path !== 'string' || path === '')) invalid(`path must be a non-empty string, got ${show(path)}`)
    if (typeof table !== 'string' || !IDENTIFIER.test(table)) {
      invalid(`table must be an SQL identifier (letters, digits, _; not sqlite_…; at most 64), got ${show(table)}`)
    }
    if (typeof prefix !== 'string') invalid(`prefix must be a string, got ${show(prefix)}`)
    if (busyTimeout !== undefined && !(Number.isInteger(busyTimeout) && busyTimeout >= 0 && busyTimeout <= MAX_BUSY_TIMEOUT)) {
      invalid(`busyTimeout must be a non-negative integer of milliseconds, got ${show(busyTimeout)}`)
    }
    if (!(Number.isFinite(maintenanceInterval) && maintenanceInterval >= 0)) {
      invalid(`maintenanceInterval must be a non-negative number of milliseconds, got ${show(maintenanceInterval)}`)
    }
    this.#given = database
    this.path = database?.name ?? path ?? defaultPath()
    this.#table = table
    this.#prefix = prefix
    this.#busyTimeout = busyTimeout
    // unref(): a cache's housekeeping must never keep the process alive.
    this.#maintenance = maintenanceInterval > 0 ? setInterval(() => this.#maintain(), maintenanceInterval).unref() : undefined
    this.locks = {
      tryAcquire: async (key, ttl, options) => {
        const s = this.#statements(options)
        const token = randomUUID()
        const now = Date.now()
        return s.acquire.run(this.#prefix + key, token, now + ttl, now).changes === 1 ? token : undefined
      },
      release: async (key, token, options) => this.#statements(options).release.run(this.#prefix + key, token).changes === 1,
      extend: async (key, token, ttl, options) => {
        const now = Date.now()
        return this.#statements(options).extend.run(now + ttl, this.#prefix + key, token, now).changes === 1
      },
    }
  }

  /** {@inheritDoc CacheBackend.get} */
  async get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined> {
    const row = this.#statements(options).get.get(this.#prefix + key, Date.now()) as Row | undefined
    return row === undefined ? undefined : { value: row.value, expiresAt: row.expires_at }
  }

  /** One `SELECT` for all keys; one slot per key, in order, duplicates included. */
  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(StoredEntry | undefined)[]> {
    options?.signal?.throwIfAborted()
    if (keys.length === 0) return []
    const full = keys.map((key) => this.#prefix + key)
    const rows = this.#statements(options).getMany.all(JSON.stringify(full), Date.now()) as Row[]
    const found = new Map(rows.map((row) => [row.key, row]))
    const given = new Set<string>()
    return full.map((key) => {
      const row = found.get(key)
      if (row === undefined) return undefined
      // A duplicated key gets its own copy, so a caller changing one slot cannot change another.
      const value = given.has(key) ? row.value.slice() : row.value
      given.add(key)
      return { value, expiresAt: row.expires_at }
    })
  }

  /** {@inheritDoc CacheBackend.set} */
  async set(entry: EntryToStore, options?: OperationOptions): Promise<void> {
    this.#write(this.#statements(options), entry)
  }

  /** Stores every entry in one transaction: all of them or none. */
  async setMany(entries: readonly EntryToStore[], options?: OperationOptions): Promise<void> {
    const s = this.#statements(options)
    if (entries.length > 0) this.#transaction(s, () => entries.forEach((entry) => this.#write(s, entry)))
  }

  /** {@inheritDoc CacheBackend.delete} */
  async delete(key: string, options?: OperationOptions): Promise<void> {
    this.#statements(options).delete.run(this.#prefix + key)
  }

  /** Removes every listed key in one statement. */
  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<void> {
    const s = this.#statements(options)
    if (keys.length > 0) s.deleteMany.run(JSON.stringify(keys.map((key) => this.#prefix + key)))
  }

  /** Removes this backend's entries (its `prefix`), or only those whose key starts with `options.prefix`. */
  async clear(options?: ClearOptions): Promise<void> {
    this.#statements(options).clear.run({ prefix: this.#prefix + (options?.prefix ?? '') })
  }

  /** Removes this backend's expired rows now; resolves to how many. */
  async prune(options?: OperationOptions): Promise<number> {
    return this.#statements(options).prune.run({ now: Date.now(), prefix: this.#prefix }).changes
  }

  /** Runs a read on the database and reports how long it took. */
  async health(options?: OperationOptions): Promise<BackendHealth> {
    const started = performance.now()
    try {
      this.#statements(options).health.get()
      return { ok: true, latencyMs: performance.now() - started }
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : String(error) }
    }
  }

  /** Stops the maintenance timer and closes the database if this backend opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#maintenance)
    const open = this.#open
    this.#open = undefined
    if (open !== undefined && this.#given === undefined) open.db.close()
  }

  #write(s: Statements, entry: EntryToStore): void {
    const key = this.#prefix + entry.key
    // Already expired: it must never be returned, so only the old value goes.
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) s.delete.run(key)
    else s.set.run(key, entry.value, entry.expiresAt)
  }

  #transaction(s: Statements, work: () => void): void {
    // IMMEDIATE takes the write lock up front (waiting at most busyTimeout), so the transaction
    // never fails half-way on a lock upgrade.
    s.begin.run()
    try {
      work()
      s.commit.run()
    } catch (error) {
      if (s.db.inTransaction) s.rollback.run()
      throw error
    }
  }

  /** The prepared statements, opening the database on first use; throws when aborted or closed. */
  #statements(options: OperationOptions | undefined): Statements {
    options?.signal?.throwIfAborted()
    if (this.#closed) throw new Error('the backend is closed')
    return (this.#open ??= this.#connect())
  }

  #connect(): Statements {
    let db = this.#given
    if (db === undefined) {
      if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
      db = new Database(this.path, { timeout: this.#busyTimeout ?? DEFAULT_BUSY_TIMEOUT })
    } else if (this.#busyTimeout !== undefined) {
      db.exec(`PRAGMA busy_timeout = ${this.#busyTimeout}`)
    }
    try {
      if (this.#given === undefined) {
        db.exec('PRAGMA journal_mode = WAL')
        db.exec('PRAGMA synchronous = NORMAL')
        db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`)
      }
      return this.#prepare(db)
    } catch (error) {
      // Nothing half-open is kept: the next operation tries again from the start.
      if (this.#given === undefined) db.close()
      throw error
    }
  }

  #prepare(db: SqliteDatabase): Statements {
    const t = `"${this.#table}"`
    const locks = `"${this.#table}_locks"`
    // IF NOT EXISTS on objects that exist takes no write lock, so opening never waits on writers.
    db.exec(`CREATE TABLE IF NOT EXISTS ${t} (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at INTEGER)`)
    db.exec(`CREATE INDEX IF NOT EXISTS "${this.#table}_expires_at" ON ${t} (expires_at) WHERE expires_at IS NOT NULL`)
    db.exec(`CREATE TABLE IF NOT EXISTS ${locks} (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at INTEGER NOT NULL)`)
    const live = '(expires_at IS NULL OR expires_at > ?)'
    // substr, not LIKE: a prefix is plain text, `%` and `_` included, and case-sensitive.
    const startsWith = 'key >= @prefix AND substr(key, 1, length(@prefix)) = @prefix'
    return {
      db,
      get: db.prepare(`SELECT value, expires_at FROM ${t} WHERE key = ? AND ${live}`),
      getMany: db.prepare(`SELECT key, value, expires_at FROM ${t} WHERE key IN (SELECT value FROM json_each(?)) AND ${live}`),
      set: db.prepare(
        `INSERT INTO ${t} (key, value, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      ),
      delete: db.prepare(`DELETE FROM ${t} WHERE key = ?`),
      deleteMany: db.prepare(`DELETE FROM ${t} WHERE key IN (SELECT value FROM json_each(?))`),
      clear: db.prepare(`DELETE FROM ${t} WHERE ${startsWith}`),
      prune: db.prepare(`DELETE FROM ${t} WHERE expires_at <= @now AND ${startsWith}`),
      pruneSome: db.prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expires_at <= ? LIMIT ${PRUNE_BATCH})`),
      checkpoint: db.prepare('PRAGMA wal_checkpoint(TRUNCATE)'),
      health: db.prepare(`SELECT count(*) FROM (SELECT 1 FROM ${t} LIMIT 1)`),
      acquire: db.prepare(
        `INSERT INTO ${locks} (name, token, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
         WHERE ${locks}.expires_at <= ?`,
      ),
      release: db.prepare(`DELETE FROM ${locks} WHERE name = ? AND token = ?`),
      extend: db.prepare(`UPDATE ${locks} SET expires_at = ? WHERE name = ? AND token = ? AND expires_at > ?`),
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    }
  }

  /** The timer's work: best effort, never opens the database, never throws. */
  #maintain(): void {
    const s = this.#open
    if (s === undefined) return
    try {
      s.pruneSome.run(Date.now())
      s.checkpoint.get()
    } catch {
      // Busy or full: the next tick tries again; operations report their own failures.
    }
  }
}

function defaultPath(): string {
  const xdg = process.env['XDG_CACHE_HOME']
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache')
  return join(base, 'dcache', 'cache.sqlite')
}

function invalid(message: string): never {
  throw new DcacheTypeError('E_INVALID_OPTION', `[dcache:sqlite] ${message}`)
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}
