import type {
  BackendCapabilities,
  BackendHealth,
  CacheBackend,
  ClearOptions,
  EntryToStore,
  OperationOptions,
  StoredEntry,
} from './contract.js'
import { DcacheError, DcacheTypeError } from './errors.js'

/** Options of {@link InMemoryBackend}. Durations are milliseconds. */
export interface InMemoryBackendOptions {
  /**
   * Most entries kept; the least recently used is evicted beyond it. Must be a positive integer:
   * an unbounded memory cache cannot be configured by accident.
   * @default 10_000
   */
  readonly maxSize?: number
  /**
   * Most bytes kept, counted as the byte length of stored values (live values are sized by their
   * encoded length, computed once when stored). Unlimited when absent.
   */
  readonly maxBytes?: number
  /** Longest lifetime of any entry, in milliseconds; shorter expiries are kept. Unlimited when absent. */
  readonly ttl?: number
  /**
   * Measures a live value for `maxBytes`. dcache's core passes its codec here; you rarely need it.
   * @default the byte length of the value's encoding
   */
  readonly sizeOf?: (value: unknown) => number
}

/** Per-function entry counter, so `cacheInfo().size` stays O(1) on a shared memory tier. */
export interface EntryCounter {
  size: number
}

/**
 * A key inside a {@link MemorySpace}: a canonical argument string, or a number for a call whose
 * only argument is that number (`-0` excluded), which needs no string at all.
 */
export type MemoryKey = string | number

/**
 * The keys of one cached function inside an {@link InMemoryBackend}: entries addressed by a short
 * suffix (the canonical arguments), so a hit hashes a few characters, not the whole key. Spaces
 * share the backend's LRU order and limits.
 */
export interface MemorySpace {
  /** The prefix every key of this space has (the function's key prefix). */
  readonly prefix: string
  /**
   * Live entry for `suffix`, marking it most recently used; `undefined` on a miss. Read it right
   * away: after the next `set` in the backend, the object may hold another entry.
   */
  get(suffix: MemoryKey): MemoryEntry | undefined
  /** Live entry for `suffix` without changing recency or removing it when expired. */
  peek(suffix: MemoryKey): MemoryEntry | undefined
  /**
   * Store a live value. `expiresAt` is absolute epoch ms or `null`; `isAsync` makes hits return a
   * promise; `owner` is the counter behind a function's `cacheInfo().size`.
   */
  set(suffix: MemoryKey, value: unknown, expiresAt: number | null, isAsync: boolean, owner?: EntryCounter): void
  /** Remove `suffix` if present; returns whether it was. */
  delete(suffix: MemoryKey): boolean
  /** Remove every entry of this space; returns how many. */
  clear(): number
}

/**
 * One cached entry in memory: either opaque bytes (the backend contract) or a live value
 * (the fast path used by `dcache()` itself). Exposed read-only to the core.
 */
export interface MemoryEntry {
  readonly value: unknown
  /** Absolute expiry in epoch milliseconds, `Infinity` when none. */
  readonly expiresAt: number
  /** `true` when the value came from an async function: hits return {@link promise}. */
  readonly async: boolean
  /** A settled promise of `value`, made once and reused for every async hit. */
  readonly promise: Promise<unknown> | undefined
}

interface Node extends MemoryEntry {
  /** The index holding this node, and its key there. */
  index: Map<MemoryKey, Node>
  prefix: string
  suffix: MemoryKey
  value: unknown
  expiresAt: number
  async: boolean
  promise: Promise<unknown> | undefined
  bytes: boolean
  size: number
  owner: EntryCounter | undefined
  /** `false` once removed: removing twice is a no-op without asking the index. */
  live: boolean
  newer: Node | undefined
  older: Node | undefined
}

const CAPABILITIES: BackendCapabilities = Object.freeze({
  nativeExpiry: true,
  expiryResolution: 1,
  maxKeyBytes: 64 * 1024,
  nativeBatch: true,
})

/**
 * A bounded in-process LRU cache tier: O(1) get, set and eviction. It is the default tier of
 * `dcache(fn)`.
 *
 * Hits served from memory return the **same object** every time, as `functools.lru_cache` does:
 * do not mutate a cached result. (Values read from remote tiers are decoded afresh.)
 *
 * It also implements the byte-level {@link CacheBackend} contract and passes the conformance suite.
 *
 * @example
 * ```ts
 * const memory = new InMemoryBackend({ maxSize: 1_000, ttl: 60_000 })
 * const cache = dcache(memory)
 * const square = cache(function square(n: number) { return n * n })
 * ```
 */
export class InMemoryBackend implements CacheBackend {
  /** Backend contract version. */
  readonly contract = 1 as const
  /** Slug used in errors and events. */
  readonly name = 'memory'
  /** Native expiry with 1 ms resolution. */
  readonly capabilities: BackendCapabilities = CAPABILITIES
  /** Entry limit. */
  readonly maxSize: number
  /** Byte limit, or `Infinity`. */
  readonly maxBytes: number
  /** Lifetime cap in milliseconds, or `Infinity`. */
  readonly ttl: number

  /** Entries stored through the byte contract, by full key. */
  readonly #byteIndex = new Map<MemoryKey, Node>()
  /** Live entries, one index per space prefix. */
  readonly #spaces = new Map<string, MemorySpace>()
  #count = 0
  readonly #sizeOf: ((value: unknown) => number) | undefined
  #bytes = 0
  #newest: Node | undefined
  #oldest: Node | undefined

  constructor(options: InMemoryBackendOptions = {}) {
    this.maxSize = positive(options.maxSize ?? 10_000, 'maxSize', true)
    this.maxBytes = options.maxBytes === undefined ? Infinity : positive(options.maxBytes, 'maxBytes', true)
    this.ttl = options.ttl === undefined ? Infinity : positive(options.ttl, 'ttl', false)
    this.#sizeOf = options.sizeOf
  }

  /** Number of entries currently held (expired entries count until read or pruned). */
  get size(): number {
    return this.#count
  }

  /** Total bytes currently held, as counted for `maxBytes`. */
  get bytes(): number {
    return this.#bytes
  }

  /** Keys currently held, most recently used first (expired ones until read or pruned). */
  *keys(): IterableIterator<string> {
    for (let node = this.#newest; node !== undefined; node = node.older) yield fullKey(node)
  }

  // ---- fast path used by dcache() ------------------------------------------------------------

  /** The space of keys starting with `prefix` (one per cached function); the same object each time. */
  space(prefix: string): MemorySpace {
    let space = this.#spaces.get(prefix)
    if (space === undefined) this.#spaces.set(prefix, (space = this.#createSpace(prefix)))
    return space
  }

  /** Remove every live and byte entry whose full key starts with `prefix`; returns how many. */
  deletePrefix(prefix: string): number {
    let removed = 0
    for (let node = this.#newest; node !== undefined; ) {
      const older = node.older
      if (fullKey(node).startsWith(prefix)) {
        this.#remove(node)
        removed++
      }
      node = older
    }
    return removed
  }

  #createSpace(prefix: string): MemorySpace {
    const index = new Map<MemoryKey, Node>()
    return {
      prefix,
      get: (suffix) => {
        const node = index.get(suffix)
        if (node === undefined) return undefined
        if (node.expiresAt !== Infinity && node.expiresAt <= Date.now()) {
          this.#remove(node)
          return undefined
        }
        this.#touch(node)
        return node
      },
      peek: (suffix) => {
        const node = index.get(suffix)
        if (node === undefined || node.expiresAt <= Date.now()) return undefined
        return node
      },
      set: (suffix, value, expiresAt, isAsync, owner) => {
        let size = 0
        if (this.maxBytes !== Infinity) {
          size = this.#sizeOf === undefined ? 0 : this.#sizeOf(value)
          if (size > this.maxBytes) return
        }
        this.#insert(index, prefix, suffix, value, false, this.#cap(expiresAt), size, isAsync, owner)
      },
      delete: (suffix) => {
        const node = index.get(suffix)
        if (node === undefined) return false
        this.#remove(node)
        return true
      },
      clear: () => {
        const removed = index.size
        for (const node of [...index.values()]) this.#remove(node)
        return removed
      },
    }
  }

  // ---- backend contract v1 ------------------------------------------------------------------

  /** {@inheritDoc CacheBackend.get} */
  async get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined> {
    checkSignal(options)
    return this.#readBytes(key)
  }

  /** {@inheritDoc CacheBackend.getMany} */
  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(StoredEntry | undefined)[]> {
    checkSignal(options)
    return keys.map((key) => this.#readBytes(key))
  }

  /** {@inheritDoc CacheBackend.set} */
  async set(entry: EntryToStore, options?: OperationOptions): Promise<void> {
    checkSignal(options)
    this.#writeBytes(entry)
  }

  /** {@inheritDoc CacheBackend.setMany} */
  async setMany(entries: readonly EntryToStore[], options?: OperationOptions): Promise<void> {
    checkSignal(options)
    for (const entry of entries) this.#writeBytes(entry)
  }

  /** {@inheritDoc CacheBackend.delete} */
  async delete(key: string, options?: OperationOptions): Promise<void> {
    checkSignal(options)
    this.#deleteBytes(key)
  }

  /** {@inheritDoc CacheBackend.deleteMany} */
  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<void> {
    checkSignal(options)
    for (const key of keys) this.#deleteBytes(key)
  }

  /** {@inheritDoc CacheBackend.clear} */
  async clear(options?: ClearOptions): Promise<void> {
    checkSignal(options)
    if (options?.prefix !== undefined) {
      this.deletePrefix(options.prefix)
      return
    }
    for (let node = this.#newest; node !== undefined; node = node.older) {
      if (node.owner !== undefined) node.owner.size--
      node.live = false
      node.index.clear()
    }
    this.#newest = this.#oldest = undefined
    this.#bytes = 0
    this.#count = 0
  }

  /** {@inheritDoc CacheBackend.prune} */
  async prune(options?: OperationOptions): Promise<number> {
    checkSignal(options)
    const now = Date.now()
    let removed = 0
    for (let node = this.#newest; node !== undefined; ) {
      const older = node.older
      if (node.expiresAt <= now) {
        this.#remove(node)
        removed++
      }
      node = older
    }
    return removed
  }

  /** {@inheritDoc CacheBackend.health} */
  async health(): Promise<BackendHealth> {
    return { ok: true, latencyMs: 0 }
  }

  /** Nothing to release: entries stay until garbage collected with the backend. Idempotent. */
  async close(): Promise<void> {}

  // ---- internals ----------------------------------------------------------------------------

  #readBytes(key: string): StoredEntry | undefined {
    const node = this.#byteIndex.get(key)
    if (node === undefined) return undefined
    if (node.expiresAt <= Date.now()) {
      this.#remove(node)
      return undefined
    }
    this.#touch(node)
    const value = (node.value as Uint8Array).slice()
    return { value, expiresAt: node.expiresAt === Infinity ? null : node.expiresAt }
  }

  #writeBytes(entry: EntryToStore): void {
    const size = entry.value.byteLength
    if (size > this.maxBytes) {
      this.#deleteBytes(entry.key)
      return
    }
    this.#insert(this.#byteIndex, '', entry.key, entry.value.slice(), true, this.#cap(entry.expiresAt), size, false, undefined)
  }

  #deleteBytes(key: string): void {
    const node = this.#byteIndex.get(key)
    if (node !== undefined) this.#remove(node)
  }

  #cap(expiresAt: number | null): number {
    const at = expiresAt ?? Infinity
    return this.ttl === Infinity ? at : Math.min(at, Date.now() + this.ttl)
  }

  #insert(
    index: Map<MemoryKey, Node>,
    prefix: string,
    suffix: MemoryKey,
    value: unknown,
    bytes: boolean,
    expiresAt: number,
    size: number,
    isAsync: boolean,
    owner: EntryCounter | undefined,
  ): void {
    const existing = index.get(suffix)
    if (existing !== undefined) this.#remove(existing)
    const oldest = this.#oldest
    let node: Node
    if (existing === undefined && oldest !== undefined && this.#count >= this.maxSize && this.maxBytes === Infinity) {
      // Full: the least recently used entry goes, and its node carries the new one (no allocation).
      this.#remove(oldest)
      node = oldest
      node.index = index
      node.prefix = prefix
      node.suffix = suffix
      node.value = value
      node.expiresAt = expiresAt
      node.async = isAsync
      node.promise = undefined
      node.bytes = bytes
      node.size = size
      node.owner = owner
      node.live = true
      node.older = this.#newest
    } else {
      node = {
        index,
        prefix,
        suffix,
        value,
        expiresAt,
        async: isAsync,
        promise: undefined,
        bytes,
        size,
        owner,
        live: true,
        newer: undefined,
        older: this.#newest,
      }
    }
    if (isAsync) node.promise = Promise.resolve(value)
    if (this.#newest !== undefined) this.#newest.newer = node
    this.#newest = node
    this.#oldest ??= node
    index.set(suffix, node)
    this.#count++
    this.#bytes += size
    if (owner !== undefined) owner.size++
    while (this.#count > this.maxSize || this.#bytes > this.maxBytes) {
      // #oldest is defined whenever the map is non-empty
      this.#remove(this.#oldest as Node)
    }
  }

  #touch(node: Node): void {
    if (node === this.#newest) return
    // unlink (node has a newer neighbour, since it isn't the newest)
    const newer = node.newer as Node
    newer.older = node.older
    if (node.older === undefined) this.#oldest = newer
    else node.older.newer = newer
    // relink at the head
    node.older = this.#newest
    node.newer = undefined
    ;(this.#newest as Node).newer = node
    this.#newest = node
  }

  #remove(node: Node): void {
    if (!node.live) return
    node.live = false
    node.index.delete(node.suffix)
    this.#count--
    if (node.newer === undefined) this.#newest = node.older
    else node.newer.older = node.older
    if (node.older === undefined) this.#oldest = node.newer
    else node.older.newer = node.newer
    node.newer = node.older = undefined
    this.#bytes -= node.size
    if (node.owner !== undefined) node.owner.size--
  }
}

function positive(value: number, option: string, integer: boolean): number {
  const ok = typeof value === 'number' && value > 0 && (integer ? Number.isInteger(value) || value === Infinity : !Number.isNaN(value))
  if (!ok) {
    throw new DcacheTypeError(
      'E_INVALID_OPTION',
      `InMemoryBackend option ${option} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
    )
  }
  return value
}

function checkSignal(options: OperationOptions | undefined): void {
  const signal = options?.signal
  if (signal?.aborted) {
    throw new DcacheError('E_ABORTED', '[dcache:memory] operation aborted', { cause: signal.reason })
  }
}

/** A node's key as a string: a number suffix is written as its canonical form (`n42;`). */
function fullKey(node: Node): string {
  return node.prefix + (typeof node.suffix === 'number' ? `n${node.suffix};` : node.suffix)
}
