import { breakerFor, type CircuitBreaker } from './breaker.js'
import { CODEC_ID, decodeValue } from './codec.js'
import { DeadlineOp, withDeadline } from './deadline.js'
import { openEnvelope, sealEnvelope } from './envelope.js'
import { BackendError, DcacheError, type BackendOperation } from './errors.js'
import type { OperationOptions, StoredEntry } from './contract.js'
import type { ResolvedTier } from './options.js'

/** Where a tier reports what went wrong; the caller never sees these as exceptions. */
export interface TierReporter {
  /** A backend call failed or missed its deadline. */
  error(tier: ResolvedTier, error: BackendError): void
  /** Stored bytes failed to verify or decode. */
  integrity(tier: ResolvedTier, reason: string): void
  /** A value was not written to this tier (too large for it). */
  skipped(tier: ResolvedTier, reason: string): void
}

/** A decoded hit from a remote tier. */
export interface RemoteHit {
  readonly value: unknown
  /** Absolute epoch ms, or `null`: what upper tiers are backfilled with. */
  readonly expiresAt: number | null
  /** The encoded value, reused when backfilling other byte tiers. */
  readonly payload: Uint8Array
}

const FAILED = Symbol('failed')
const SKIPPED: Promise<typeof FAILED> = Promise.resolve(FAILED)

/**
 * Run one operation on a tier: skipped while its circuit is open, bounded by its deadline,
 * failures reported and turned into `FAILED`. Never rejects.
 */
function guarded<T>(
  tier: ResolvedTier,
  operation: BackendOperation,
  report: TierReporter,
  run: (options: OperationOptions) => Promise<T>,
): Promise<T | typeof FAILED> {
  const breaker = breakerFor(tier.backend)
  if (!breaker.allow()) return SKIPPED
  return withDeadline(tier.backend.name, operation, tier.timeout, run).then(
    (result) => {
      breaker.success()
      return result
    },
    (error: unknown) => {
      breaker.failure()
      report.error(tier, error as BackendError)
      return FAILED
    },
  )
}

/** Read and verify `key` from a byte tier; a failure of any kind is a miss. Never rejects. */
export function readRemote(
  tier: ResolvedTier,
  key: string,
  logicalKey: string,
  secret: string | Uint8Array | undefined,
  report: TierReporter,
): Promise<RemoteHit | undefined> {
  return guarded(tier, 'get', report, (options) => tier.backend.get(key, options)).then((stored) =>
    stored === FAILED || stored === undefined ? undefined : verify(tier, stored, logicalKey, secret, report),
  )
}

/** One read of a byte tier: what to read, where to report failures, and who gets the result. */
export interface RemoteRead {
  readonly key: string
  readonly logicalKey: string
  readonly secret: string | Uint8Array | undefined
  readonly report: TierReporter
  /** Called once: with the verified hit, or with `undefined` on a miss or any failure. */
  done(hit: RemoteHit | undefined): void
}

/** Starts a {@link RemoteRead} on a byte tier. Never throws; the read's `done` is always called. */
export type RemoteReader = (read: RemoteRead) => void

/**
 * The reads of one tick on a tier whose backend batches natively: sent together as one `getMany`
 * (a lone read as a `get`) under one deadline, so that concurrent callers share one round trip
 * and one deadline. Callbacks, not promises, from the backend's answer to the callers.
 */
class ReadBatch {
  // Plain fields, not `#private`: this object is on every remote read's path.
  private readonly tier: ResolvedTier
  private readonly breaker: CircuitBreaker
  /** The tick's first read, and the ones after it (an array only when there are several). */
  private first: RemoteRead | undefined = undefined
  private more: RemoteRead[] | undefined = undefined

  constructor(tier: ResolvedTier) {
    this.tier = tier
    this.breaker = breakerFor(tier.backend)
  }

  readonly read: RemoteReader = (read) => {
    if (this.first === undefined) {
      this.first = read
      process.nextTick(this.flush)
    } else if (this.more === undefined) this.more = [this.first, read]
    else this.more.push(read)
  }

  private readonly flush = (): void => {
    const { first, more } = this
    this.first = this.more = undefined
    if (!this.breaker.allow()) {
      for (const read of more ?? [first!]) settle(read, undefined)
      return
    }
    if (more === undefined) this.readOne(first!)
    else this.readMany(more)
  }

  private readOne(read: RemoteRead): void {
    const { tier, breaker } = this
    const op = new DeadlineOp(tier.backend.name, 'get', tier.timeout, (error) => this.fail([read], error))
    try {
      tier.backend.get(read.key, op).then(
        (stored) => {
          if (!op.settle()) return
          breaker.success()
          settle(read, stored === undefined ? undefined : verifySafely(tier, stored, read))
        },
        (error: unknown) => {
          if (op.settle()) this.fail([read], op.error(error))
        },
      )
    } catch (error) {
      // A backend that throws instead of rejecting, or returns no promise.
      if (op.settle()) this.fail([read], op.error(error))
    }
  }

  private readMany(reads: readonly RemoteRead[]): void {
    const { tier, breaker } = this
    const { backend } = tier
    const op = new DeadlineOp(backend.name, 'getMany', tier.timeout, (error) => this.fail(reads, error))
    const answered = (result: unknown): void => {
      if (!op.settle()) return
      if (!Array.isArray(result) || result.length !== reads.length) {
        const count = Array.isArray(result) ? `${result.length} entries` : 'no array'
        this.fail(reads, new BackendError(backend.name, 'getMany', new TypeError(`getMany returned ${count} for ${reads.length} keys`)))
        return
      }
      breaker.success()
      for (let i = 0; i < reads.length; i++) {
        const read = reads[i]!
        const stored = result[i] as StoredEntry | undefined
        settle(read, stored === undefined ? undefined : verifySafely(tier, stored, read))
      }
    }
    const failed = (error: unknown): void => {
      if (op.settle()) this.fail(reads, op.error(error))
    }
    try {
      backend.getMany(reads.map((read) => read.key), op).then(answered, failed)
    } catch (error) {
      failed(error)
    }
  }

  private fail(reads: readonly RemoteRead[], error: BackendError): void {
    this.breaker.failure()
    for (const read of reads) {
      try {
        read.report.error(this.tier, error)
      } catch {
        // A reporter's failure must not leave the caller waiting.
      }
      settle(read, undefined)
    }
  }
}

/** {@link verify} for a queued read; a reporter that throws makes it a miss. */
function verifySafely(tier: ResolvedTier, stored: StoredEntry, read: RemoteRead): RemoteHit | undefined {
  try {
    return verify(tier, stored, read.logicalKey, read.secret, read.report)
  } catch {
    return undefined
  }
}

/** Hands a read its result; a `done` that throws must not stop the other reads of a batch. */
function settle(read: RemoteRead, hit: RemoteHit | undefined): void {
  try {
    read.done(hit)
  } catch {
    // `done` belongs to the core and does not throw; this guards the batch, not the caller.
  }
}

const batches = new WeakMap<ResolvedTier, ReadBatch>()

/**
 * The reader of a byte tier: reads of one tick batched when its backend batches natively
 * (`capabilities.nativeBatch`), else one `get` each under its own deadline.
 */
export function readerFor(tier: ResolvedTier): RemoteReader {
  if (!tier.backend.capabilities.nativeBatch) {
    return (read) => void readRemote(tier, read.key, read.logicalKey, read.secret, read.report).then((hit) => settle(read, hit))
  }
  let batch = batches.get(tier)
  if (batch === undefined) batches.set(tier, (batch = new ReadBatch(tier)))
  return batch.read
}

/** Check a stored entry's expiry, envelope and codec, and decode it; anything wrong is a miss. */
function verify(
  tier: ResolvedTier,
  stored: StoredEntry,
  logicalKey: string,
  secret: string | Uint8Array | undefined,
  report: TierReporter,
): RemoteHit | undefined {
  if (!(stored.value instanceof Uint8Array)) {
    report.error(tier, new BackendError(tier.backend.name, 'get', new TypeError('get returned a value that is not a Uint8Array')))
    return undefined
  }
  const now = Date.now()
  if (stored.expiresAt !== null && stored.expiresAt <= now) return undefined
  const opened = openEnvelope(stored.value, logicalKey, secret)
  if (!opened.ok) {
    report.integrity(tier, opened.reason)
    return undefined
  }
  const { envelope } = opened
  if (envelope.expiresAt !== null && envelope.expiresAt <= now) return undefined
  if (envelope.codecId !== CODEC_ID) {
    report.integrity(tier, `unknown codec ${envelope.codecId}`)
    return undefined
  }
  try {
    return { value: decodeValue(envelope.payload), expiresAt: envelope.expiresAt, payload: envelope.payload }
  } catch (error) {
    report.integrity(tier, DcacheError.is(error) ? error.message : String(error))
    return undefined
  }
}

/** Seal `payload` for `key` and write it; returns whether it was written. Never rejects. */
export async function writeRemote(
  tier: ResolvedTier,
  key: string,
  logicalKey: string,
  payload: Uint8Array,
  expiresAt: number | null,
  secret: string | Uint8Array | undefined,
  report: TierReporter,
): Promise<boolean> {
  const value = sealEnvelope({ key: logicalKey, payload, createdAt: Date.now(), expiresAt, codecId: CODEC_ID }, secret)
  const limit = tier.backend.capabilities.maxValueBytes
  if (limit !== undefined && value.byteLength > limit) {
    report.skipped(tier, `entry of ${value.byteLength} bytes exceeds ${tier.backend.name}'s maxValueBytes (${limit})`)
    return false
  }
  const result = await guarded(tier, 'set', report, (options) => tier.backend.set({ key, value, expiresAt }, options))
  return result !== FAILED
}

/** Delete `key` from a byte tier. Never rejects. */
export async function deleteRemote(tier: ResolvedTier, key: string, report: TierReporter): Promise<void> {
  await guarded(tier, 'delete', report, (options) => tier.backend.delete(key, options))
}

/** Remove every key starting with `prefix` from a byte tier. Never rejects. */
export async function clearRemote(tier: ResolvedTier, prefix: string, report: TierReporter): Promise<void> {
  const { backend } = tier
  if (backend.clear === undefined) {
    report.error(tier, new BackendError(backend.name, 'clear', new Error('this backend does not implement clear()')))
    return
  }
  await guarded(tier, 'clear', report, (options) => (backend.clear as NonNullable<typeof backend.clear>)({ prefix, signal: options.signal }))
}

/** Take the lock `key` on a tier with the `locks` facet: a token, `undefined` when someone else holds it, `null` on failure. */
export async function acquireLock(tier: ResolvedTier, key: string, ttl: number, report: TierReporter): Promise<string | undefined | null> {
  const locks = tier.backend.locks
  if (locks === undefined) return null
  const token = await guarded(tier, 'lock', report, (options) => locks.tryAcquire(key, ttl, options))
  return token === FAILED ? null : token
}

/**
 * What {@link readOrLock} found: a verified hit, or the lock (`token` set) or someone else's lock
 * (`token` undefined); `null` when it could not tell (no such facet, a failure, a corrupt entry).
 */
export type ReadOrLock = { readonly hit: RemoteHit } | { readonly token: string | undefined } | null

/** Read `key` and take lock `lockKey` when it is absent, in one round trip (the optional `getOrAcquire`). Never rejects. */
export function readOrLock(
  tier: ResolvedTier,
  key: string,
  lockKey: string,
  ttl: number,
  logicalKey: string,
  secret: string | Uint8Array | undefined,
  report: TierReporter,
): Promise<ReadOrLock> {
  const locks = tier.backend.locks
  const getOrAcquire = locks?.getOrAcquire
  if (getOrAcquire === undefined) return Promise.resolve(null)
  return guarded(tier, 'lock', report, (options) => getOrAcquire.call(locks, key, lockKey, ttl, options)).then((found) => {
    if (found === FAILED) return null
    if (found.entry === undefined) return { token: typeof found.token === 'string' ? found.token : undefined }
    const hit = verify(tier, found.entry, logicalKey, secret, report)
    return hit === undefined ? null : { hit }
  })
}

/**
 * Release the lock `key` if `token` still owns it and publish `message` on `channel` in one round
 * trip (the optional `releaseAndPublish`); `false` when the backend cannot. Never rejects.
 */
export async function releaseAndPublish(
  tier: ResolvedTier,
  key: string,
  token: string,
  channel: string,
  message: Uint8Array,
  report: TierReporter,
): Promise<boolean> {
  const locks = tier.backend.locks
  const release = locks?.releaseAndPublish
  if (release === undefined) return false
  await guarded(tier, 'lock', report, (options) => release.call(locks, key, token, channel, message, options))
  return true
}

/** Release the lock `key` if `token` still owns it. Never rejects. */
export async function releaseLock(tier: ResolvedTier, key: string, token: string, report: TierReporter): Promise<void> {
  const locks = tier.backend.locks
  if (locks !== undefined) await guarded(tier, 'lock', report, (options) => locks.release(key, token, options))
}

/** Renew the lock `key` for `ttl` ms if `token` still owns it. Never rejects. */
export async function extendLock(tier: ResolvedTier, key: string, token: string, ttl: number, report: TierReporter): Promise<void> {
  const extend = tier.backend.locks?.extend
  if (extend !== undefined) await guarded(tier, 'lock', report, (options) => extend.call(tier.backend.locks, key, token, ttl, options))
}

/**
 * Publish on the tier's bus, bounded by the tier's deadline. Never rejects. The bus may live on
 * another connection than the data, so its outcome does not move the circuit breaker; while the
 * circuit is open, nothing is published.
 */
export async function publishOn(tier: ResolvedTier, channel: string, message: Uint8Array, report: TierReporter): Promise<void> {
  const bus = tier.backend.bus
  if (bus === undefined || breakerFor(tier.backend).open) return
  try {
    await withDeadline(tier.backend.name, 'publish', tier.timeout, (options) => bus.publish(channel, message, options))
  } catch (error) {
    report.error(tier, error as BackendError)
  }
}
