import type {
  BackendCapabilities,
  BackendHealth,
  CacheBackend,
  ClearOptions,
  EntryToStore,
  OperationOptions,
  StoredEntry,
} from '@dcache/core'
import { type ChannelTable, MapBus } from './map-bus.js'
import { type LockTable, MapLocks } from './map-locks.js'

interface MapEntry {
  readonly value: Uint8Array
  readonly expiresAt: number | null
  readonly tags: readonly string[]
}

interface SharedState {
  readonly entries: Map<string, MapEntry>
  readonly locks: LockTable
  readonly channels: ChannelTable
}

/** Options of {@link MapBackend}. */
export interface MapBackendOptions {
  /** Prepended to every key, lock and channel, so instances sharing a store stay apart. @default '' */
  readonly prefix?: string
  /** Share the store (entries, locks, channels) of this instance, as two processes share a server. */
  readonly sharedWith?: MapBackend
}

const CAPABILITIES: BackendCapabilities = Object.freeze({
  nativeExpiry: false,
  expiryResolution: 1,
  maxKeyBytes: 64 * 1024,
  nativeBatch: true,
})

/**
 * A minimal, correct backend over a `Map`, with every optional method and facet. Expiry is checked
 * against `Date.now()` on read. It is the suite's own reference subject and the default inner
 * backend of {@link ChaosBackend}; use `InMemoryBackend` from `@dcache/core` in applications.
 *
 * @example
 * ```ts
 * const store = new MapBackend()
 * await store.set({ key: 'k', value: new Uint8Array([1]), expiresAt: Date.now() + 1000 })
 * const hit = await store.get('k') // { value: Uint8Array [1], expiresAt: … }
 * ```
 */
export class MapBackend implements CacheBackend {
  readonly contract = 1
  readonly name = 'map'
  readonly capabilities = CAPABILITIES
  readonly locks: MapLocks
  readonly tags = { invalidate: (tags: readonly string[], options?: OperationOptions) => this.#invalidate(tags, options) }
  readonly bus: MapBus
  readonly #state: SharedState
  readonly #prefix: string

  constructor(options: MapBackendOptions = {}) {
    const shared = options.sharedWith
    this.#state = shared ? shared.#state : { entries: new Map(), locks: new Map(), channels: new Map() }
    this.#prefix = options.prefix ?? ''
    this.bus = new MapBus(this.#state.channels, this.#prefix)
    this.locks = new MapLocks(this.#state.locks, this.#prefix, {
      read: (key) => this.#read(key),
      publish: (channel, message) => this.bus.publish(channel, message),
    })
  }

  async get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined> {
    options?.signal?.throwIfAborted()
    return this.#read(key)
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(StoredEntry | undefined)[]> {
    options?.signal?.throwIfAborted()
    return keys.map((key) => this.#read(key))
  }

  async set(entry: EntryToStore, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    this.#write(entry)
  }

  async setMany(entries: readonly EntryToStore[], options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    for (const entry of entries) this.#write(entry)
  }

  async delete(key: string, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    this.#state.entries.delete(this.#prefix + key)
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    for (const key of keys) this.#state.entries.delete(this.#prefix + key)
  }

  async clear(options?: ClearOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const prefix = this.#prefix + (options?.prefix ?? '')
    for (const key of this.#state.entries.keys()) if (key.startsWith(prefix)) this.#state.entries.delete(key)
  }

  async prune(options?: OperationOptions): Promise<number> {
    options?.signal?.throwIfAborted()
    const now = Date.now()
    let pruned = 0
    for (const [key, entry] of this.#state.entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) pruned += Number(this.#state.entries.delete(key))
    }
    return pruned
  }

  async health(options?: OperationOptions): Promise<BackendHealth> {
    options?.signal?.throwIfAborted()
    return { ok: true, latencyMs: 0 }
  }

  /** Nothing to release: there are no connections or timers. */
  async close(): Promise<void> {}

  #read(key: string): StoredEntry | undefined {
    const entry = this.#state.entries.get(this.#prefix + key)
    if (!entry) return undefined
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.#state.entries.delete(this.#prefix + key)
      return undefined
    }
    // A copy, so a caller mutating the result cannot change what is stored.
    return { value: entry.value.slice(), expiresAt: entry.expiresAt }
  }

  #write(entry: EntryToStore): void {
    const stored = { value: entry.value.slice(), expiresAt: entry.expiresAt, tags: [...(entry.tags ?? [])] }
    this.#state.entries.set(this.#prefix + entry.key, stored)
  }

  async #invalidate(tags: readonly string[], options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const doomed = new Set(tags)
    for (const [key, entry] of this.#state.entries) {
      if (key.startsWith(this.#prefix) && entry.tags.some((tag) => doomed.has(tag))) this.#state.entries.delete(key)
    }
  }
}
