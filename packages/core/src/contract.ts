/**
 * The backend contract, version 1: what a storage tier must implement so that dcache can read,
 * write and delete through it. Values are opaque bytes (the core owns serialisation), a miss is
 * always `undefined`, and every expiry is an absolute epoch time in milliseconds.
 *
 * Third-party backends implement {@link CacheBackend} and run `@dcache/backend-tests` against it.
 *
 * @packageDocumentation
 */

/** Options accepted by every backend operation. */
export interface OperationOptions {
  /** Aborted when the core's deadline for this operation passes: stop work and reject. */
  readonly signal?: AbortSignal | undefined
}

/** What a backend returns on a hit. */
export interface StoredEntry {
  /** The bytes given to {@link CacheBackend.set}, unchanged. The core does not mutate them. */
  readonly value: Uint8Array
  /**
   * Absolute expiry, epoch milliseconds; `null` when the entry never expires. An entry is expired
   * when `expiresAt <= Date.now()`. A store that keeps a relative TTL may report it off by up to
   * `expiryResolution` plus the duration of the call.
   */
  readonly expiresAt: number | null
}

/** What the core asks a backend to store. */
export interface EntryToStore {
  /**
   * The full key, already shaped for this backend's {@link BackendCapabilities}. Keys the core
   * sends are printable ASCII without spaces (percent-encoded names, base64url digests); a
   * backend must still keep any two distinct keys apart (`Key` and `key`, `a/b` and `a_b`).
   */
  readonly key: string
  /** Opaque bytes (a dcache envelope); may be empty. */
  readonly value: Uint8Array
  /**
   * Absolute expiry, epoch milliseconds; `null` means no expiry. An `expiresAt` already in the
   * past must never be returned afterwards: store nothing, or delete the key (memcached reads a
   * TTL of 0 as "forever", so such backends must not pass it through).
   */
  readonly expiresAt: number | null
  /** Tags for the `tags` facet, when the backend has one. */
  readonly tags?: readonly string[] | undefined
}

/** What a backend declares about itself, so the core can shape keys and deadlines for it. */
export interface BackendCapabilities {
  /** `true` when the store itself drops expired entries (Redis `PX`); else the core checks on read. */
  readonly nativeExpiry: boolean
  /** Granularity of expiry in milliseconds (1 for memory and Redis, 1000 for memcached). */
  readonly expiryResolution: number
  /** Longest key the backend accepts, in UTF-8 bytes. Longer keys are hashed by the core. */
  readonly maxKeyBytes: number
  /** Largest value the backend accepts, in bytes; larger values are not written. */
  readonly maxValueBytes?: number | undefined
  /** `true` when `getMany` is one round trip rather than a loop over `get`. */
  readonly nativeBatch: boolean
}

/** Options of {@link CacheBackend.clear}. */
export interface ClearOptions extends OperationOptions {
  /** Only remove keys that start with this prefix. Without it, remove every key of this backend. */
  readonly prefix?: string | undefined
}

/** Result of {@link CacheBackend.health}. */
export interface BackendHealth {
  /** `true` when the backend can serve requests. */
  readonly ok: boolean
  /** Round-trip time of the probe in milliseconds, when measured. */
  readonly latencyMs?: number | undefined
  /** Why the backend is not healthy. */
  readonly reason?: string | undefined
}

/** Cross-process mutual exclusion, used for cross-process single-flight (`lock: true`). */
export interface LocksFacet {
  /**
   * Take the lock named `key` for `ttl` milliseconds.
   * @returns an owner token on success, `undefined` when someone else holds it.
   */
  tryAcquire(key: string, ttl: number, options?: OperationOptions): Promise<string | undefined>
  /** Release the lock, only if `token` still owns it. Returns whether it did. */
  release(key: string, token: string, options?: OperationOptions): Promise<boolean>
  /** Reset the lock's expiry to now + `ttl` ms, only if `token` still owns it. Returns whether it did. */
  extend?(key: string, token: string, ttl: number, options?: OperationOptions): Promise<boolean>
  /**
   * Optional, one round trip instead of two under `lock`: read entry `key` (as
   * {@link CacheBackend.get} would) and, only when it is absent, try to take lock `lockKey` for
   * `ttl` ms. Resolves `{ entry }` on a hit, `{ token }` when the lock was taken, `{}` when
   * someone else holds it.
   */
  getOrAcquire?(key: string, lockKey: string, ttl: number, options?: OperationOptions): Promise<EntryOrLock>
  /**
   * Optional, one round trip instead of two under `lock` with coherence: release like
   * {@link LocksFacet.release}, and publish `message` on the backend's bus channel `channel` (as
   * {@link BusFacet.publish} would) whether or not the lock was still owned.
   */
  releaseAndPublish?(key: string, token: string, channel: string, message: Uint8Array, options?: OperationOptions): Promise<boolean>
}

/** Result of {@link LocksFacet.getOrAcquire}: the entry, or the lock's token, or neither (someone else holds it). */
export interface EntryOrLock {
  /** The stored entry, when there is one (no lock was taken). */
  readonly entry?: StoredEntry | undefined
  /** The owner token, when the entry was absent and the lock was taken. */
  readonly token?: string | undefined
}

/** Tag-based invalidation. */
export interface TagsFacet {
  /** Remove every entry stored with any of `tags`. */
  invalidate(tags: readonly string[], options?: OperationOptions): Promise<void>
}

/** A message bus between processes that share this backend (cache coherence). */
export interface BusFacet {
  /** Send `message` to every subscriber of `channel`, in this and other processes. */
  publish(channel: string, message: Uint8Array, options?: OperationOptions): Promise<void>
  /** Receive messages on `channel`. Resolves once subscribed; returns the unsubscribe function. */
  subscribe(channel: string, onMessage: (message: Uint8Array) => void): Promise<() => Promise<void>>
  /**
   * Report the state of the subscriber connection: `listener(false)` when it drops (messages
   * published meanwhile are lost), `listener(true)` when it is subscribed again. Returns the
   * function that stops reporting. Without it, the core assumes a subscribed bus stays up.
   */
  watch?(listener: (connected: boolean) => void): () => void
}

/**
 * A storage tier for dcache, contract version 1.
 *
 * Rules every backend follows (the conformance suite in `@dcache/backend-tests` checks them):
 * - A miss is `undefined`, never `null`.
 * - Values are opaque bytes: copy `value` in `set` if you keep it (the caller may reuse the
 *   buffer); return exactly those bytes.
 * - Fail by rejecting with any error: the core wraps it in a `BackendError`, applies its deadline
 *   and treats the failure as a miss or a skipped write. When `options.signal` aborts, reject
 *   promptly (with `signal.reason` preferably); an aborted `set` stores nothing. A read that
 *   cannot be cancelled once sent (one network request) may only check the signal before it
 *   starts: the core stops waiting at the deadline itself.
 * - Never close a client the user passed in; after `close()` operations may reject.
 *
 * @example
 * ```ts
 * class MyBackend implements CacheBackend {
 *   readonly contract = 1
 *   readonly name = 'my-store'
 *   readonly capabilities = { nativeExpiry: false, expiryResolution: 1, maxKeyBytes: 1024, nativeBatch: false }
 *   async get(key: string) { … }
 *   // getMany, set, delete …
 * }
 * ```
 */
export interface CacheBackend {
  /** The contract version this backend implements. The core refuses any other. */
  readonly contract: 1
  /** A short slug used in errors, events and metrics (`redis`, `s3`, `memory`). */
  readonly name: string
  /** What this backend can do; see {@link BackendCapabilities}. */
  readonly capabilities: BackendCapabilities

  /** Read one entry. A miss (absent or expired) is `undefined`, never `null`. */
  get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined>
  /** Read many entries; the result has one slot per key, in order, duplicates included. */
  getMany(keys: readonly string[], options?: OperationOptions): Promise<(StoredEntry | undefined)[]>
  /** Store an entry, replacing any previous value for the key. */
  set(entry: EntryToStore, options?: OperationOptions): Promise<void>
  /** Remove an entry. Removing an absent key succeeds. */
  delete(key: string, options?: OperationOptions): Promise<void>

  /** Store many entries. */
  setMany?(entries: readonly EntryToStore[], options?: OperationOptions): Promise<void>
  /** Remove many entries. */
  deleteMany?(keys: readonly string[], options?: OperationOptions): Promise<void>
  /**
   * Remove every entry of this backend (its own prefix, table or path: never a whole shared
   * database, so no `FLUSHDB`), or only those whose key starts with `options.prefix`.
   */
  clear?(options?: ClearOptions): Promise<void>
  /** Remove expired entries now (for stores without native expiry). Returns how many. */
  prune?(options?: OperationOptions): Promise<number>
  /** Probe the backend. */
  health?(options?: OperationOptions): Promise<BackendHealth>
  /** Release connections and timers. Idempotent. Never closes a client the user passed in. */
  close?(): Promise<void>

  /** Cross-process locks, when the store supports them. */
  readonly locks?: LocksFacet | undefined
  /** Tag invalidation, when the store supports it. */
  readonly tags?: TagsFacet | undefined
  /** Pub/sub between processes, when the store supports it. */
  readonly bus?: BusFacet | undefined
}

/** The only contract version this release of `@dcache/core` understands. */
export const CONTRACT_VERSION = 1
