/**
 * `RedisBackend`: a dcache tier in Redis or Redis Cluster, on ioredis.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto'
import type { ConnectionOptions } from 'node:tls'
import calculateSlot from 'cluster-key-slot'
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis'
import {
  DcacheTypeError,
  type BackendCapabilities,
  type BackendHealth,
  type BusFacet,
  type CacheBackend,
  type ClearOptions,
  type EntryOrLock,
  type EntryToStore,
  type LocksFacet,
  type OperationOptions,
  type StoredEntry,
} from '@dcache/core'

/** Options of {@link RedisBackend}. Give connection options, a `url`, `nodes` or your own `client`. */
export interface RedisBackendOptions {
  /** @default '127.0.0.1' */
  readonly host?: string
  /** @default 6379 */
  readonly port?: number
  /** Database number (not with a Cluster). @default 0 */
  readonly db?: number
  readonly username?: string
  readonly password?: string
  /** `true`, or Node TLS options, to connect over TLS. */
  readonly tls?: boolean | ConnectionOptions
  /** `redis://` or `rediss://` URL; the other connection options override its parts. */
  readonly url?: string
  /** Startup nodes of a Redis Cluster: the backend creates an ioredis `Cluster`. */
  readonly nodes?: readonly ClusterNode[]
  /** Your own ioredis `Redis` or `Cluster`. The backend never closes it. */
  readonly client?: Redis | Cluster
  /** Put before every key, and the scope of `clear()`. @default '' */
  readonly prefix?: string
  /** Values larger than this many bytes are not written (the caller still gets them). @default 16 MiB */
  readonly maxValueBytes?: number
}

/** Stored in front of every value: format byte, then expiresAt as a float64 (-1: never). */
const HEADER_BYTES = 9
const FORMAT = 1
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
const EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
/** Read KEYS[1]; when absent, take lock KEYS[2] (token ARGV[1], ttl ARGV[2]): the value, 1 (taken) or 0 (held). */
const GET_OR_ACQUIRE =
  "local v = redis.call('get', KEYS[1]) if v then return v end if redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end return 0"
/** Release lock KEYS[1] if token ARGV[1] owns it, then publish ARGV[3] on channel ARGV[2]. */
const RELEASE_AND_PUBLISH =
  "local r = 0 if redis.call('get', KEYS[1]) == ARGV[1] then r = redis.call('del', KEYS[1]) end redis.call('publish', ARGV[2], ARGV[3]) return r"
const SCAN_COUNT = 1000
/** How long an operation without a signal waits for a connection that is not ready. */
const READY_WAIT = 1000

interface PendingGet {
  readonly key: string
  readonly resolve: (entry: StoredEntry | undefined) => void
  readonly reject: (error: unknown) => void
}

/**
 * A dcache tier in Redis (standalone or Cluster). Native expiry (`PXAT`); `getMany` is one `MGET`
 * per slot, and on a Cluster the `get`s of one tick are too; `clear` scans this backend's prefix on every master
 * and never flushes a database. Has the `locks` and `bus` facets.
 *
 * Clients the backend creates do not queue commands while disconnected: an operation waits for
 * the connection at most until its deadline, so a Redis outage costs each call one deadline.
 *
 * @example
 * ```ts
 * import { dcache } from '@dcache/core'
 * import { RedisBackend } from '@dcache/redis'
 *
 * const cache = dcache(new RedisBackend({ host: '127.0.0.1', port: 6379 }))
 * const slowFunction = cache(async function slowFunction(n: number) { return n ** 10 })
 * ```
 */
export class RedisBackend implements CacheBackend {
  readonly contract = 1
  readonly name = 'redis'
  readonly capabilities: BackendCapabilities
  /** Cross-process locks: `SET NX PX` with a random token; release and extend only by the owner. */
  readonly locks: LocksFacet
  /** Pub/sub on a dedicated connection. */
  readonly bus: BusFacet

  readonly #client: Redis | Cluster
  readonly #owned: boolean
  /** Whether {@link RedisBackend.client} is a Cluster (whose reads are batched per slot here). */
  readonly #cluster: boolean
  readonly #prefix: string
  #pending: PendingGet[] = []
  #subscriber: Promise<Redis | Cluster> | undefined
  readonly #handlers = new Map<string, Set<(message: Uint8Array) => void>>()
  readonly #watchers = new Set<(connected: boolean) => void>()
  #closed = false
  #ready: Promise<void> | undefined

  constructor(options: RedisBackendOptions = {}) {
    const prefix = options.prefix ?? ''
    if (typeof prefix !== 'string') throw new DcacheTypeError('E_INVALID_OPTION', 'RedisBackend: `prefix` must be a string')
    const maxValueBytes = options.maxValueBytes ?? 16 * 1024 * 1024
    if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes <= 0) {
      throw new DcacheTypeError('E_INVALID_OPTION', `RedisBackend: \`maxValueBytes\` must be a positive integer, got ${String(maxValueBytes)}`)
    }
    this.#prefix = prefix
    if (options.client !== undefined) {
      const connection = (['host', 'port', 'db', 'username', 'password', 'tls', 'url', 'nodes'] as const).filter((name) => options[name] !== undefined)
      if (connection.length > 0) {
        throw new DcacheTypeError('E_INVALID_OPTION', `RedisBackend: give \`client\` or connection options, not both (got \`client\` and \`${connection.join('`, `')}\`)`)
      }
      this.#client = options.client
      this.#owned = false
    } else {
      this.#client = createClient(options)
      this.#owned = true
      // Connection errors surface as failed operations; without a listener ioredis logs each one.
      this.#client.on('error', () => {})
    }
    // On a Cluster getMany is one round trip per slot, and one slot failing must not fail the
    // others: the core then reads key by key, and `get` batches per slot itself.
    this.#cluster = this.#client instanceof Cluster
    const nativeBatch = !this.#cluster
    this.capabilities = { nativeExpiry: true, expiryResolution: 1, maxKeyBytes: 1024, maxValueBytes, nativeBatch }
    this.locks = {
      tryAcquire: async (key, ttl, opts) => {
        const token = randomUUID()
        const reply = await this.#command(opts, (c) => c.set(this.#prefix + key, token, 'PX', Math.ceil(ttl), 'NX'))
        return reply === 'OK' ? token : undefined
      },
      release: async (key, token, opts) =>
        (await this.#command(opts, (c) => c.eval(RELEASE, 1, this.#prefix + key, token))) === 1,
      extend: async (key, token, ttl, opts) =>
        (await this.#command(opts, (c) => c.eval(EXTEND, 1, this.#prefix + key, token, Math.ceil(ttl)))) === 1,
      getOrAcquire: (key, lockKey, ttl, opts) => this.#getOrAcquire(this.#prefix + key, this.#prefix + lockKey, ttl, opts),
      releaseAndPublish: async (key, token, channel, message, opts) => {
        const payload = Buffer.from(message.buffer, message.byteOffset, message.byteLength)
        const reply = await this.#command(opts, (c) => c.eval(RELEASE_AND_PUBLISH, 1, this.#prefix + key, token, this.#prefix + channel, payload))
        return reply === 1
      },
    }
    this.bus = {
      publish: async (channel, message, opts) => {
        await this.#command(opts, (c) => c.publish(this.#prefix + channel, Buffer.from(message.buffer, message.byteOffset, message.byteLength)))
      },
      subscribe: (channel, onMessage) => this.#subscribe(this.#prefix + channel, onMessage),
      watch: (listener) => {
        this.#watchers.add(listener)
        return () => void this.#watchers.delete(listener)
      },
    }
  }

  /** The client this backend talks through (yours, when you passed `client`). */
  get client(): Redis | Cluster {
    return this.#client
  }

  /**
   * Reads one entry. On a standalone server the `GET` is sent at once (dcache's core already
   * sends the reads of one tick as one `getMany`, since this backend batches natively); on a
   * Cluster, where the core reads key by key, the reads of one tick go out as one `MGET` per
   * slot. A read that was sent cannot be called back, so an abort after the call is not watched:
   * the caller's own deadline bounds the wait (the core's does), not a listener on every read.
   */
  get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined> {
    const signal = options?.signal
    if (signal?.aborted) return Promise.reject(signal.reason as Error)
    if (!this.#cluster) {
      const client = this.#client
      const full = this.#prefix + key
      const reply = client.status === 'ready' && !this.#closed ? client.getBuffer(full) : this.#command(options, (c) => c.getBuffer(full))
      return reply.then(decode)
    }
    return new Promise<StoredEntry | undefined>((resolve, reject) => {
      if (this.#pending.push({ key: this.#prefix + key, resolve, reject }) === 1) process.nextTick(this.#flushGets)
    })
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(StoredEntry | undefined)[]> {
    options?.signal?.throwIfAborted()
    if (keys.length === 0) return []
    const full = keys.map((key) => this.#prefix + key)
    const client = this.#client
    if (!(client instanceof Cluster)) {
      // One MGET, sent at once on a ready connection; like `get`, not called back on abort.
      const replies = client.status === 'ready' && !this.#closed ? await client.mgetBuffer(full) : await this.#command(options, (c) => c.mgetBuffer(full))
      return replies.map(decode)
    }
    const result = new Array<StoredEntry | undefined>(full.length)
    await this.#command(options, (client) =>
      Promise.all(
        this.#bySlot(full).map(async (indexes) => {
          const replies = await client.mgetBuffer(...indexes.map((i) => full[i] as string))
          indexes.forEach((i, j) => (result[i] = decode(replies[j])))
        }),
      ),
    )
    return result
  }

  async set(entry: EntryToStore, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const key = this.#prefix + entry.key
    await this.#command(options, (client) => write(client, key, entry))
  }

  async setMany(entries: readonly EntryToStore[], options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await this.#command(options, async (client) => {
      await Promise.all(entries.map((entry) => write(client, this.#prefix + entry.key, entry)))
    })
  }

  async delete(key: string, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await this.#command(options, (client) => client.unlink(this.#prefix + key))
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (keys.length === 0) return
    const full = keys.map((key) => this.#prefix + key)
    await this.#command(options, (client) =>
      Promise.all(this.#bySlot(full).map((indexes) => client.unlink(...indexes.map((i) => full[i] as string)))),
    )
  }

  /**
   * Removes this backend's keys (those starting with its `prefix`, then `options.prefix`) with
   * `SCAN` on every master. With neither prefix it removes the keys dcache writes (`dcache:*`),
   * never the whole database.
   */
  async clear(options?: ClearOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const scope = this.#prefix + (options?.prefix ?? '') || 'dcache:'
    const pattern = escapeGlob(scope) + '*'
    await this.#command(options, async (client) => {
      const masters = client instanceof Cluster ? client.nodes('master') : [client]
      await Promise.all(
        masters.map(async (node) => {
          let cursor = '0'
          do {
            options?.signal?.throwIfAborted()
            const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
            cursor = next
            // A node serves many slots; a multi-key UNLINK must stay within one.
            await Promise.all(this.#bySlot(found).map((indexes) => node.unlink(...indexes.map((i) => found[i] as string))))
          } while (cursor !== '0')
        }),
      )
    })
  }

  async health(options?: OperationOptions): Promise<BackendHealth> {
    const start = performance.now()
    try {
      await this.#command(options, (client) => client.ping())
      return { ok: true, latencyMs: performance.now() - start }
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : String(error) }
    }
  }

  /** Closes the connections this backend opened; a client you passed is left open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    if (subscriber !== undefined) (await subscriber.catch(() => undefined))?.disconnect()
    if (this.#owned) this.#client.disconnect()
  }

  /** Sends the single-key reads queued on a Cluster: one `GET` or `MGET` per slot. */
  readonly #flushGets = (): void => {
    const batch = this.#pending
    this.#pending = []
    const keys = batch.map((pending) => pending.key)
    for (const indexes of this.#bySlot(keys)) {
      const fail = (error: unknown) => indexes.forEach((i) => batch[i]?.reject(error))
      this.#command(undefined, (client) =>
        indexes.length === 1 ? client.getBuffer(keys[indexes[0] as number] as string).then((r) => [r]) : client.mgetBuffer(...indexes.map((i) => keys[i] as string)),
      ).then((replies) => indexes.forEach((i, j) => batch[i]?.resolve(decode(replies[j]))), fail)
    }
  }

  /** One script when both keys share a slot (always, outside a Cluster); else a GET, then SET NX. */
  async #getOrAcquire(key: string, lockKey: string, ttl: number, options?: OperationOptions): Promise<EntryOrLock> {
    const token = randomUUID()
    const px = Math.ceil(ttl)
    if (!(this.#client instanceof Cluster) || calculateSlot(key) === calculateSlot(lockKey)) {
      const reply = await this.#command(options, (c) => c.callBuffer('EVAL', GET_OR_ACQUIRE, 2, key, lockKey, token, px))
      if (!Buffer.isBuffer(reply)) return reply === 1 ? { token } : {}
      const entry = decode(reply)
      if (entry !== undefined) return { entry }
      // Not an entry of ours: as good as absent.
    } else {
      const entry = decode(await this.#command(options, (c) => c.getBuffer(key)))
      if (entry !== undefined) return { entry }
    }
    return (await this.#command(options, (c) => c.set(lockKey, token, 'PX', px, 'NX'))) === 'OK' ? { token } : {}
  }

  /** Index groups of `keys` that share a slot (one group when not on a Cluster). */
  #bySlot(keys: readonly string[]): number[][] {
    if (keys.length === 0) return []
    if (!(this.#client instanceof Cluster)) return [keys.map((_, i) => i)]
    const groups = new Map<number, number[]>()
    keys.forEach((key, i) => {
      const slot = calculateSlot(key)
      const group = groups.get(slot)
      if (group === undefined) groups.set(slot, [i])
      else group.push(i)
    })
    return [...groups.values()]
  }

  /**
   * Runs `run` once the client is ready. A client that is not ready is waited for at most until
   * `options.signal` aborts; commands are never queued offline.
   */
  async #command<T>(options: OperationOptions | undefined, run: (client: Redis | Cluster) => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error('the backend is closed')
    const signal = options?.signal
    if (this.#client.status !== 'ready') await this.#whenReady(signal ?? AbortSignal.timeout(READY_WAIT))
    const result = run(this.#client)
    return signal === undefined ? result : abortable(result, signal)
  }

  /** Resolves when the client is ready; rejects when `signal` aborts first. */
  #whenReady(signal: AbortSignal): Promise<void> {
    const client = this.#client
    // A lazyConnect client connects on its first command, as ioredis would do itself; a client
    // of the user's that was closed stays closed.
    if (client.status === 'wait' || (this.#owned && client.status === 'end')) void client.connect().catch(() => {})
    this.#ready ??= new Promise<void>((resolve) =>
      client.once('ready', () => {
        this.#ready = undefined
        resolve()
      }),
    )
    return abortable(this.#ready, signal)
  }

  async #subscribe(channel: string, onMessage: (message: Uint8Array) => void): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('the backend is closed')
    this.#subscriber ??= this.#openSubscriber()
    const subscriber = await this.#subscriber
    let handlers = this.#handlers.get(channel)
    if (handlers === undefined) {
      handlers = new Set()
      this.#handlers.set(channel, handlers)
    }
    handlers.add(onMessage)
    if (handlers.size === 1) await subscriber.subscribe(channel)
    return async () => {
      const current = this.#handlers.get(channel)
      if (current === undefined || !current.delete(onMessage) || current.size > 0) return
      this.#handlers.delete(channel)
      if (!this.#closed) await subscriber.unsubscribe(channel).catch(() => {})
    }
  }

  async #openSubscriber(): Promise<Redis | Cluster> {
    // A connection in subscriber mode cannot send other commands: it gets its own. Unlike the
    // command connection it may queue (SUBSCRIBE) while reconnecting, and resubscribes itself.
    const client = this.#client
    const subscriber =
      client instanceof Cluster
        ? client.duplicate(undefined, { enableOfflineQueue: true, redisOptions: { ...client.options.redisOptions, enableOfflineQueue: true } })
        : client.duplicate({ enableOfflineQueue: true })
    subscriber.on('error', () => {})
    // ioredis subscribes again before it reports `ready` after a reconnection.
    let connected = true
    const report = (now: boolean) => {
      if (now === connected) return
      connected = now
      for (const watcher of this.#watchers) watcher(now)
    }
    subscriber.on('close', () => report(false))
    subscriber.on('ready', () => report(true))
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      for (const handler of this.#handlers.get(channel.toString()) ?? []) {
        try {
          handler(new Uint8Array(message.buffer, message.byteOffset, message.byteLength))
        } catch {
          // A subscriber's bug must not stop the others.
        }
      }
    })
    return subscriber
  }
}

function createClient(options: RedisBackendOptions): Redis | Cluster {
  const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // No auto-pipelining: reads of one tick are already one MGET, and ioredis sends pipelined
    // commands a setImmediate later, which costs every sequential read a turn of the event loop.
    retryStrategy: (attempt) => Math.min(50 * attempt, 200),
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(tls === undefined ? {} : { tls }),
  }
  if (options.nodes !== undefined) {
    if (options.db !== undefined) throw new DcacheTypeError('E_INVALID_OPTION', 'RedisBackend: a Redis Cluster has no `db`; remove `db` or `nodes`')
    if (options.nodes.length === 0) throw new DcacheTypeError('E_INVALID_OPTION', 'RedisBackend: `nodes` needs at least one startup node')
    return new Cluster([...options.nodes], {
      enableOfflineQueue: false,
      clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 500),
      redisOptions: common,
    })
  }
  const connection: RedisOptions = {
    ...common,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.db === undefined ? {} : { db: options.db }),
  }
  return options.url === undefined ? new Redis(connection) : new Redis(options.url, connection)
}

function write(client: Redis | Cluster, key: string, entry: EntryToStore): Promise<unknown> {
  const { expiresAt } = entry
  if (expiresAt !== null && expiresAt <= Date.now()) return client.unlink(key)
  const stored = Buffer.allocUnsafe(HEADER_BYTES + entry.value.byteLength)
  stored[0] = FORMAT
  stored.writeDoubleBE(expiresAt ?? -1, 1)
  stored.set(entry.value, HEADER_BYTES)
  return expiresAt === null ? client.set(key, stored) : client.set(key, stored, 'PXAT', Math.ceil(expiresAt))
}

function decode(stored: Buffer | null | undefined): StoredEntry | undefined {
  if (stored === null || stored === undefined || stored.length < HEADER_BYTES || stored[0] !== FORMAT) return undefined
  const expiresAt = stored.readDoubleBE(1)
  // A plain view: Buffer#subarray builds a Buffer, several times slower.
  return { value: new Uint8Array(stored.buffer, stored.byteOffset + HEADER_BYTES, stored.length - HEADER_BYTES), expiresAt: expiresAt < 0 ? null : expiresAt }
}

/** Rejects with the signal's reason when it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
