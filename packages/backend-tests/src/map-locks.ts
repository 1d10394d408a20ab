import { randomUUID } from 'node:crypto'
import type { EntryOrLock, LocksFacet, OperationOptions, StoredEntry } from '@dcache/core'

interface HeldLock {
  readonly token: string
  expiresAt: number
}

/** What the locks see of their backend, for the combined operations. */
export interface LockedStore {
  /** Read an entry, as the backend's `get` would. */
  read(key: string): StoredEntry | undefined
  /** Publish on the backend's bus. */
  publish(channel: string, message: Uint8Array): Promise<void>
}

/** In-process locks with owner tokens, expiring against `Date.now()`. */
export class MapLocks implements LocksFacet {
  readonly #held: Map<string, HeldLock>
  readonly #prefix: string
  readonly #store: LockedStore

  constructor(held: Map<string, HeldLock>, prefix: string, store: LockedStore) {
    this.#held = held
    this.#prefix = prefix
    this.#store = store
  }

  async tryAcquire(key: string, ttl: number, options?: OperationOptions): Promise<string | undefined> {
    options?.signal?.throwIfAborted()
    if (this.#live(key)) return undefined
    const token = randomUUID()
    this.#held.set(this.#prefix + key, { token, expiresAt: Date.now() + ttl })
    return token
  }

  async release(key: string, token: string, options?: OperationOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    if (this.#live(key)?.token !== token) return false
    this.#held.delete(this.#prefix + key)
    return true
  }

  async extend(key: string, token: string, ttl: number, options?: OperationOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    const lock = this.#live(key)
    if (lock?.token !== token) return false
    lock.expiresAt = Date.now() + ttl
    return true
  }

  /** The entry when present, else an attempt at the lock: one step, as a server-side script would be. */
  async getOrAcquire(key: string, lockKey: string, ttl: number, options?: OperationOptions): Promise<EntryOrLock> {
    options?.signal?.throwIfAborted()
    const entry = this.#store.read(key)
    if (entry !== undefined) return { entry }
    const token = await this.tryAcquire(lockKey, ttl)
    return token === undefined ? {} : { token }
  }

  /** Release (owner only), then publish either way. */
  async releaseAndPublish(key: string, token: string, channel: string, message: Uint8Array, options?: OperationOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    const released = await this.release(key, token)
    await this.#store.publish(channel, message)
    return released
  }

  #live(key: string): HeldLock | undefined {
    const lock = this.#held.get(this.#prefix + key)
    if (lock && lock.expiresAt > Date.now()) return lock
    this.#held.delete(this.#prefix + key)
    return undefined
  }
}

/** The lock table that instances sharing one store have in common. */
export type LockTable = Map<string, HeldLock>
