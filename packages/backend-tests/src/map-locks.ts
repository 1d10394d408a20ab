import { randomUUID } from 'node:crypto'
import type { LocksFacet, OperationOptions } from '@dcache/core'

interface HeldLock {
  readonly token: string
  expiresAt: number
}

/** In-process locks with owner tokens, expiring against `Date.now()`. */
export class MapLocks implements LocksFacet {
  readonly #held: Map<string, HeldLock>
  readonly #prefix: string

  constructor(held: Map<string, HeldLock>, prefix: string) {
    this.#held = held
    this.#prefix = prefix
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

  #live(key: string): HeldLock | undefined {
    const lock = this.#held.get(this.#prefix + key)
    if (lock && lock.expiresAt > Date.now()) return lock
    this.#held.delete(this.#prefix + key)
    return undefined
  }
}

/** The lock table that instances sharing one store have in common. */
export type LockTable = Map<string, HeldLock>
