import type { CacheBackend, ClearOptions, EntryToStore, OperationOptions, StoredEntry } from '@dcache/core'

/** Options of {@link ObjectStoreBackend}. */
export interface ObjectStoreBackendOptions {
  /** How often expired entries are swept out, in milliseconds. @default 60_000 */
  readonly sweepInterval?: number
}

/**
 * A third-party backend in one file: entries in a `Map`, expiry checked on read against
 * `Date.now()`, and a timer that sweeps out expired entries now and then.
 *
 * @example
 * ```ts
 * const cache = dcache(new ObjectStoreBackend({ sweepInterval: 10_000 }))
 * ```
 */
export class ObjectStoreBackend implements CacheBackend {
  readonly contract = 1
  readonly name = 'object-store'
  readonly capabilities = { nativeExpiry: false, expiryResolution: 1, maxKeyBytes: 1024, nativeBatch: true }
  readonly #entries = new Map<string, StoredEntry>()
  // unref(): a cache's housekeeping must never keep the process alive.
  readonly #sweeper: NodeJS.Timeout

  constructor(options: ObjectStoreBackendOptions = {}) {
    this.#sweeper = setInterval(() => void this.prune(), options.sweepInterval ?? 60_000).unref()
  }

  async get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined> {
    options?.signal?.throwIfAborted()
    const entry = this.#entries.get(key)
    if (entry === undefined || isExpired(entry)) return undefined
    // Copies, so neither side can change the other's bytes later.
    return { value: entry.value.slice(), expiresAt: entry.expiresAt }
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(StoredEntry | undefined)[]> {
    return Promise.all(keys.map((key) => this.get(key, options)))
  }

  async set(entry: EntryToStore, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    this.#entries.set(entry.key, { value: entry.value.slice(), expiresAt: entry.expiresAt })
  }

  async delete(key: string, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    this.#entries.delete(key)
  }

  async clear(options?: ClearOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const prefix = options?.prefix ?? ''
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key)
  }

  async prune(options?: OperationOptions): Promise<number> {
    options?.signal?.throwIfAborted()
    let pruned = 0
    for (const [key, entry] of this.#entries) if (isExpired(entry) && this.#entries.delete(key)) pruned++
    return pruned
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
  }
}

function isExpired(entry: StoredEntry): boolean {
  return entry.expiresAt !== null && entry.expiresAt <= Date.now()
}
