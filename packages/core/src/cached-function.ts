import { digest } from './canonical.js'
import { encodeValue } from './codec.js'
import { Coherence } from './coherence.js'
import { DcacheError, DcacheTypeError, type BackendError } from './errors.js'
import { EventHub } from './events.js'
import { FunctionKeys } from './keys.js'
import type { EntryCounter, MemoryEntry, MemoryKey, MemorySpace } from './memory.js'
import type { ResolvedOptions, ResolvedTier } from './options.js'
import { runUnderLock, type FirstAttempt, type LockSteps } from './lock.js'
import {
  clearRemote,
  deleteRemote,
  readOrLock,
  readerFor,
  readRemote,
  releaseAndPublish,
  releaseLock,
  writeRemote,
  type RemoteHit,
  type RemoteRead,
  type RemoteReader,
  type TierReporter,
} from './remote-tier.js'
import type { AnyFunction, CacheInfo, CachedFunction } from './types.js'

/** Argument lists whose digest a function remembers; the memory is bounded, not the hit rate. */
const DIGEST_CACHE_SIZE = 1_024

/** Counters behind `cacheInfo()`. */
class Stats {
  hits = 0
  misses = 0
  errors = 0
  integrityFailures = 0
  notCacheable = 0
  readonly tierHits: number[]
  /** Entries of this function in its first memory tier, kept by the tier itself. */
  readonly entries: EntryCounter = { size: 0 }

  constructor(tiers: number) {
    this.tierHits = new Array<number>(tiers).fill(0)
  }
}

/**
 * One call's keys, built once: the memory key always; the canonical string and the digest when a
 * remote tier or an event needs them.
 */
interface CallKeys {
  /** The canonical encoding, or `undefined` until needed (a lone number argument skips it). */
  canonical: string | undefined
  /** Key inside this function's memory spaces. */
  readonly memory: MemoryKey
  /** The logical key (prefix and digest), or `undefined` until computed. */
  logical: string | undefined
  readonly thisArg: unknown
  readonly args: readonly unknown[]
}

/**
 * Build the cached version of `fn` under identity `name`. Reads tier by tier, backfills the tiers
 * above a hit with the remaining lifetime, shares one execution between concurrent callers, and
 * turns every backend failure into a miss or a skipped write.
 */
export function createCachedFunction(fn: AnyFunction, name: string, options: ResolvedOptions): CachedFunction<AnyFunction> {
  const { tiers, secret } = options
  const keys = new FunctionKeys(options.namespace, name, options.version, options.key)
  const hub = new EventHub(options.onEvent)
  const stats = new Stats(tiers.length)
  const inflight = new Map<MemoryKey, Promise<unknown>>()
  const memoryOnly = tiers.every((tier) => tier.memory !== undefined)
  const countedTier = tiers.find((tier) => tier.memory !== undefined)
  const prefixes = tiers.map((tier) =>
    tier.memory === undefined ? keys.prefixFor(tier.backend.capabilities.maxKeyBytes) : keys.prefix,
  )
  /** This function's space in each memory tier (`undefined` for byte tiers). */
  const spaces: (MemorySpace | undefined)[] = tiers.map((tier) => tier.memory?.space(keys.prefix))
  /** How each byte tier is read (batched per tick when its backend batches natively). */
  const readers: (RemoteReader | undefined)[] = tiers.map((tier) => (tier.memory === undefined ? readerFor(tier) : undefined))
  /** One memory tier and nothing else: a miss of the first space is a miss of the whole chain. */
  const singleSpace = tiers.length === 1 && spaces[0] !== undefined
  /** The first tier's space, when that tier is in memory (the sync path's only case). */
  const firstSpace = spaces[0] as MemorySpace

  /** The tier holding cross-process locks (`lock`): the first byte tier with the locks facet. */
  const lockTier = options.lock === undefined ? undefined : tiers.find((tier) => tier.memory === undefined && tier.backend.locks !== undefined)
  if (options.lock !== undefined && lockTier === undefined) {
    throw new DcacheTypeError(
      'E_INVALID_OPTION',
      `dcache: \`lock\` on "${name}" needs a tier whose backend has the locks facet (such as RedisBackend); none of its tiers has one`,
    )
  }
  /** The tier whose bus carries coherence notices: the first byte tier with a bus. */
  const busTier =
    options.coherence === undefined ? undefined : tiers.find((tier) => tier.memory === undefined && tier.backend.bus !== undefined)
  const hasMemoryAbove = busTier !== undefined && tiers.some((tier) => tier.memory !== undefined && tier.index < busTier.index)
  // Lock waiters listen too: the holder's notice tells them the value is stored.
  const listens = hasMemoryAbove || (busTier !== undefined && lockTier !== undefined && busTier === lockTier)
  const coherence =
    busTier === undefined
      ? undefined
      : new Coherence(busTier, keys.prefix, !listens ? undefined : {
          evict: (memoryKey, digestKey) => {
            let removed = 0
            for (const space of spaces) {
              if (space === undefined) continue
              removed += memoryKey === null ? space.clear() : Number(space.delete(memoryKey))
            }
            if (removed > 0 && hub.wants('evict')) {
              hub.emit({ type: 'evict', name, key: keys.prefix + (digestKey ?? ''), reason: 'coherence' })
            }
          },
          busDown: () => {
            for (const space of spaces) space?.clear()
            if (hasMemoryAbove && hub.wants('evict')) hub.emit({ type: 'evict', name, key: keys.prefix, reason: 'bus-down' })
          },
        })
  const staleness = options.coherence?.staleness ?? Infinity
  /** The lock tier, when it reads and locks in one round trip (`getOrAcquire`). */
  const combinedLockTier = lockTier?.backend.locks?.getOrAcquire === undefined ? undefined : lockTier
  /** The lock's release also publishes the coherence notice (`releaseAndPublish` on the bus tier). */
  const noticeOnRelease = coherence !== undefined && busTier === lockTier && lockTier?.backend.locks?.releaseAndPublish !== undefined

  /** Logical keys of recent argument lists: hot keys skip SHA-256 on every remote read. */
  const logicalKeys = new Map<MemoryKey, string>()
  const logicalKey = (call: CallKeys): string => {
    if (call.logical !== undefined) return call.logical
    // Keyed by the memory key, which stands for the canonical string: a lone number needs neither.
    let known = logicalKeys.get(call.memory)
    if (known === undefined) {
      known = keys.prefix + digest((call.canonical ??= keys.canonical(call.thisArg, call.args)))
      if (logicalKeys.size >= DIGEST_CACHE_SIZE) logicalKeys.clear()
      logicalKeys.set(call.memory, known)
    }
    return (call.logical = known)
  }
  const digestOf = (call: CallKeys): string => logicalKey(call).slice(keys.prefix.length)
  /** The key of a call in byte tier `index`: the logical key itself unless the tier needs a shorter prefix. */
  const remoteKey = (call: CallKeys, index: number): string =>
    prefixes[index] === keys.prefix ? logicalKey(call) : prefixes[index]! + digestOf(call)

  const numberFastPath = options.key === undefined
  const callKeys = (thisArg: unknown, args: readonly unknown[]): CallKeys => {
    // The lru_cache case, `fib(n)`: a lone number keys the memory tier as itself. Numbers never
    // equal the canonical strings other calls use; -0 would equal 0 in a Map, so it is excluded.
    if (numberFastPath && args.length === 1) {
      const only = args[0]
      if (typeof only === 'number' && (only !== 0 || 1 / only > 0)) {
        return { canonical: undefined, memory: only, logical: undefined, thisArg, args }
      }
    }
    const canonical = keys.canonical(thisArg, args)
    return { canonical, memory: keys.memorySuffix(canonical), logical: undefined, thisArg, args }
  }

  /** Expiry for a write to `tier`: its own lifetime, capped by an inherited one on backfill. */
  const expiryFor = (tier: ResolvedTier, now: number, inherited: number | null | undefined): number | null => {
    let ttl = tier.ttl ?? options.ttl
    // Without a working bus, another process's change reaches this memory tier only by expiry.
    if (hasMemoryAbove && tier.memory !== undefined && !coherence!.up) ttl = Math.min(ttl ?? Infinity, staleness)
    const own = ttl === undefined ? null : now + ttl
    if (inherited === undefined || inherited === null) return own
    return own === null ? inherited : Math.min(inherited, own)
  }

  /** Reports one call's tier failures as events and counters; one small object per call. */
  class CallReporter implements TierReporter {
    constructor(readonly call: CallKeys) {}
    error(tier: ResolvedTier, error: BackendError): void {
      stats.errors++
      if (hub.wants('error')) {
        hub.emit({ type: 'error', name, key: logicalKey(this.call), tier: tier.index, backend: tier.backend.name, error })
      }
    }
    integrity(tier: ResolvedTier, reason: string): void {
      stats.integrityFailures++
      if (hub.wants('integrity')) {
        hub.emit({ type: 'integrity', name, key: logicalKey(this.call), tier: tier.index, backend: tier.backend.name, reason })
      }
    }
    skipped(tier: ResolvedTier, reason: string): void {
      notCacheable(this.call, new DcacheError('E_NOT_CACHEABLE', `[dcache:${tier.backend.name}] ${reason}`))
    }
  }
  const reporterFor = (call: CallKeys): TierReporter => new CallReporter(call)

  const notCacheable = (call: CallKeys, error: DcacheError): void => {
    stats.notCacheable++
    if (hub.wants('not-cacheable')) {
      hub.emit({ type: 'not-cacheable', name, key: logicalKey(call), reason: error.message, error })
    }
  }

  const recordHit = (index: number, call: CallKeys): void => {
    stats.hits++
    stats.tierHits[index]!++
    if (hub.wants('hit')) {
      const tier = tiers[index]!
      hub.emit({ type: 'hit', name, key: logicalKey(call), tier: index, backend: tier.backend.name })
    }
  }

  const recordMiss = (call: CallKeys): void => {
    stats.misses++
    if (hub.wants('miss')) hub.emit({ type: 'miss', name, key: logicalKey(call) })
  }

  const recordSet = (tier: ResolvedTier, call: CallKeys): void => {
    if (hub.wants('set')) hub.emit({ type: 'set', name, key: logicalKey(call), tier: tier.index, backend: tier.backend.name })
  }

  const storeInMemory = (tier: ResolvedTier, call: CallKeys, value: unknown, expiresAt: number | null, isAsync: boolean): void => {
    const owner = tier === countedTier ? stats.entries : undefined
    ;(spaces[tier.index] as MemorySpace).set(call.memory, value, expiresAt, isAsync, owner)
    recordSet(tier, call)
  }

  /**
   * Write `value` to tiers `[0, upto)`. `inherited` is the expiry of the hit being backfilled
   * (`undefined` for a fresh result); `payload` its already-encoded bytes, when known.
   */
  const writeTiers = async (
    call: CallKeys,
    upto: number,
    value: unknown,
    inherited: number | null | undefined,
    payload: Uint8Array | undefined,
  ): Promise<void> => {
    const now = Date.now()
    let bytes = payload
    if (bytes === undefined && tiers.slice(0, upto).some((tier) => tier.memory === undefined)) {
      try {
        bytes = encodeValue(value)
      } catch (error) {
        // The caller still gets the value; caching it in memory only would make tiers disagree.
        if (DcacheError.is(error, 'E_NOT_CACHEABLE')) return notCacheable(call, error as DcacheError)
        throw error
      }
    }
    const writes: Promise<boolean>[] = []
    const report = reporterFor(call)
    for (let i = 0; i < upto; i++) {
      const tier = tiers[i]!
      const expiresAt = expiryFor(tier, now, inherited)
      if (tier.memory !== undefined) {
        storeInMemory(tier, call, value, expiresAt, true)
        continue
      }
      const key = remoteKey(call, i)
      const write = writeRemote(tier, key, logicalKey(call), bytes as Uint8Array, expiresAt, secret, report)
      writes.push(
        write.then((written) => {
          if (written) recordSet(tier, call)
          return written
        }),
      )
    }
    if (writes.length > 0) await Promise.all(writes)
  }

  /** Backfill memory tiers above `index` after a memory hit. */
  const backfillMemory = (index: number, call: CallKeys, entry: MemoryEntry): void => {
    const now = Date.now()
    const inherited = entry.expiresAt === Infinity ? null : entry.expiresAt
    for (let i = 0; i < index; i++) {
      const tier = tiers[i]!
      storeInMemory(tier, call, entry.value, expiryFor(tier, now, inherited), entry.async)
    }
  }

  // ---- memory-only tiers: a sync function stays sync ------------------------------------------

  /* eslint-disable prefer-rest-params -- a rest parameter would allocate an array on every hit */
  function memoryCall(this: unknown): unknown {
    // `fib(n)`: a hit in the first tier for a lone number needs no array and no per-call object.
    if (numberFastPath && arguments.length === 1) {
      const only: unknown = arguments[0]
      if (typeof only === 'number' && (only !== 0 || 1 / only > 0)) {
        const entry = firstSpace.get(only)
        if (entry !== undefined && !hub.wantsHit()) {
          stats.hits++
          stats.tierHits[0]!++
          return entry.async ? entry.promise : entry.value
        }
        return entry === undefined && singleSpace ? numberMiss(this, only) : memoryCallWith(this, [only])
      }
    }
    return memoryCallWith(this, Array.prototype.slice.call(arguments) as unknown[])
  }

  /**
   * A lone number that one memory tier just missed: run the function and store a sync result
   * without building the call's keys, unless someone listens for the events they would name.
   */
  function numberMiss(thisArg: unknown, only: number): unknown {
    if (inflight.has(only) || hub.wantsMissOrSet()) return memoryCallWith(thisArg, [only])
    stats.misses++
    const result: unknown = fn.call(thisArg, only)
    if (isThenable(result)) return sharePending({ canonical: undefined, memory: only, logical: undefined, thisArg, args: [only] }, result)
    firstSpace.set(only, result, anyTtl ? expiryFor(tiers[0]!, Date.now(), undefined) : null, false, stats.entries)
    return result
  }
  /* eslint-enable prefer-rest-params */

  function memoryCallWith(thisArg: unknown, args: unknown[]): unknown {
    const call = callKeys(thisArg, args)
    for (let i = 0; i < spaces.length; i++) {
      const entry = (spaces[i] as MemorySpace).get(call.memory)
      if (entry !== undefined) {
        recordHit(i, call)
        if (i > 0) backfillMemory(i, call, entry)
        return entry.async ? entry.promise : entry.value
      }
    }
    const pending = inflight.get(call.memory)
    if (pending !== undefined) return pending
    recordMiss(call)
    const result: unknown = fn.apply(thisArg, args)
    if (!isThenable(result)) {
      storeAll(call, result, false)
      return result
    }
    return sharePending(call, result)
  }

  /** Share a pending result between concurrent callers until it settles, then store it. */
  function sharePending(call: CallKeys, result: PromiseLike<unknown>): Promise<unknown> {
    const shared = Promise.resolve(result).then(
      (value) => {
        inflight.delete(call.memory)
        storeAll(call, value, true)
        return value
      },
      (error: unknown) => {
        inflight.delete(call.memory)
        throw error
      },
    )
    inflight.set(call.memory, shared)
    return shared
  }

  /** Whether any tier has a lifetime, so that storing needs the clock. */
  const anyTtl = tiers.some((tier) => (tier.ttl ?? options.ttl) !== undefined)
  const storeAll = (call: CallKeys, value: unknown, isAsync: boolean): void => {
    const now = anyTtl ? Date.now() : 0
    for (const tier of tiers) storeInMemory(tier, call, value, expiryFor(tier, now, undefined), isAsync)
  }

  // ---- any remote tier: the wrapped function returns a promise --------------------------------

  function asyncCall(this: unknown, ...args: unknown[]): Promise<unknown> {
    let call: CallKeys
    try {
      call = callKeys(this, args)
    } catch (error) {
      return Promise.reject(error)
    }
    // Leading memory tiers answer without a promise chain of their own.
    let first = 0
    for (; first < spaces.length; first++) {
      const space = spaces[first]
      if (space === undefined) break
      const entry = space.get(call.memory)
      if (entry !== undefined) {
        recordHit(first, call)
        if (first > 0) backfillMemory(first, call, entry)
        return (entry.promise ?? Promise.resolve(entry.value)) as Promise<unknown>
      }
    }
    const pending = inflight.get(call.memory)
    if (pending !== undefined) return pending
    const shared = tiers[first] === combinedLockTier ? resolveThroughTiers(this, args, call, first, reporterFor(call)) : readFirst(call, first)
    inflight.set(call.memory, shared)
    return shared
  }

  /**
   * The common case, a byte tier read first: one object is the read, its reporter and its
   * continuation, and a hit resolves the caller's promise straight from the read's callback; a
   * miss goes on to the tiers below.
   */
  class FirstRead extends CallReporter implements RemoteRead {
    readonly key: string
    readonly logicalKey: string
    readonly secret = secret
    readonly report: TierReporter = this
    resolve: (value: unknown) => void = noop

    constructor(
      call: CallKeys,
      readonly index: number,
    ) {
      super(call)
      this.key = remoteKey(call, index)
      this.logicalKey = logicalKey(call)
    }

    done(hit: RemoteHit | undefined): void {
      const { call, index } = this
      if (hit === undefined) return this.resolve(resolveThroughTiers(call.thisArg, call.args as unknown[], call, index + 1, this))
      recordHit(index, call)
      if (index === 0) {
        inflight.delete(call.memory)
        return this.resolve(hit.value)
      }
      const backfilled = writeTiers(call, index, hit.value, hit.expiresAt, hit.payload).then(() => hit.value)
      this.resolve(backfilled.finally(() => inflight.delete(call.memory)))
    }
  }

  function readFirst(call: CallKeys, index: number): Promise<unknown> {
    const read = new FirstRead(call, index)
    const result = new Promise((resolve) => (read.resolve = resolve))
    ;(readers[index] as RemoteReader)(read)
    return result
  }

  async function resolveThroughTiers(thisArg: unknown, args: unknown[], call: CallKeys, from: number, report: TierReporter): Promise<unknown> {
    /** Set when the lock tier was read with `getOrAcquire`: the lock attempt already made. */
    let first: FirstAttempt | undefined
    try {
      for (let i = from; i < tiers.length; i++) {
        const tier = tiers[i]!
        const space = spaces[i]
        if (space !== undefined) {
          const entry = space.get(call.memory)
          if (entry === undefined) continue
          recordHit(i, call)
          await writeTiers(call, i, entry.value, entry.expiresAt === Infinity ? null : entry.expiresAt, undefined)
          return entry.value
        }
        let hit: RemoteHit | undefined
        if (tier === combinedLockTier) {
          // Under `lock`, the read and the lock attempt share one round trip.
          const notice = coherence?.expect(call.memory)
          const found = await readOrLock(tier, remoteKey(call, i), lockKeyOf(call), options.lock!.ttl, logicalKey(call), secret, report)
          if (found === null || 'hit' in found) notice?.cancel()
          if (found !== null) {
            if ('hit' in found) hit = found.hit
            else first = { token: found.token, notice }
          }
        } else {
          const reader = readers[i] as RemoteReader
          const read = { key: remoteKey(call, i), logicalKey: logicalKey(call), secret, report }
          hit = await new Promise<RemoteHit | undefined>((done) => reader({ ...read, done }))
        }
        if (hit === undefined) continue
        // A lower tier had it after all: the lock taken above is not needed.
        if (typeof first?.token === 'string') await releaseLock(lockTier!, lockKeyOf(call), first.token, report)
        recordHit(i, call)
        if (i > 0) await writeTiers(call, i, hit.value, hit.expiresAt, hit.payload)
        return hit.value
      }
      if (lockTier === undefined || options.lock === undefined) return await computeAndStore(thisArg, args, call, report, true)
      const result = await runUnderLock(lockTier, lockKeyOf(call), options.lock, report, lockSteps(thisArg, args, call, report), first)
      if (result.computed) return result.value
      // Another process computed it: a hit in the lock's tier, backfilled above.
      recordHit(lockTier.index, call)
      await writeTiers(call, lockTier.index, result.hit.value, result.hit.expiresAt, result.hit.payload)
      return result.hit.value
    } finally {
      inflight.delete(call.memory)
    }
  }

  /** Run the function, write its result to every tier and, when `announce`, tell other processes. */
  async function computeAndStore(thisArg: unknown, args: unknown[], call: CallKeys, report: TierReporter, announce: boolean): Promise<unknown> {
    recordMiss(call)
    const value: unknown = await fn.apply(thisArg, args)
    await writeTiers(call, tiers.length, value, undefined, undefined)
    if (coherence !== undefined && announce) void coherence.announce(call.memory, digestOf(call), report)
    return value
  }

  const lockKeyOf = (call: CallKeys): string => remoteKey(call, lockTier!.index) + ':lock'

  /** The lock tier's operations for one call under `lock`. */
  const lockSteps = (thisArg: unknown, args: unknown[], call: CallKeys, report: TierReporter): LockSteps => {
    const tier = lockTier!
    const key = remoteKey(call, tier.index)
    return {
      read: () => readRemote(tier, key, logicalKey(call), secret, report),
      readOrLock: () => readOrLock(tier, key, lockKeyOf(call), options.lock!.ttl, logicalKey(call), secret, report),
      // The lock's release carries the notice when the backend can send both at once.
      computeAndStore: (locked) => computeAndStore(thisArg, args, call, report, !(locked && noticeOnRelease)),
      release: async (token, stored) => {
        if (stored && noticeOnRelease) {
          const notice = coherence!.notice(call.memory, digestOf(call))
          if (await releaseAndPublish(tier, lockKeyOf(call), token, Coherence.channel, notice, report)) return
        }
        await releaseLock(tier, lockKeyOf(call), token, report)
      },
      expectNotice: () => coherence?.expect(call.memory),
    }
  }

  // ---- controls -------------------------------------------------------------------------------

  const invalidate = (...args: unknown[]): Promise<void> | void => {
    const call = callKeys(undefined, args)
    const removals: Promise<void>[] = []
    const report = reporterFor(call)
    tiers.forEach((tier, i) => {
      const space = spaces[i]
      if (space !== undefined) space.delete(call.memory)
      else removals.push(deleteRemote(tier, remoteKey(call, i), report))
    })
    if (memoryOnly) return
    return Promise.all(removals).then(() => coherence?.announce(call.memory, digestOf(call), report))
  }

  const cacheClear = (): Promise<void> | void => {
    const clears: Promise<void>[] = []
    const report = reporterFor({ canonical: '', memory: '', logical: keys.prefix, thisArg: undefined, args: [] })
    tiers.forEach((tier, i) => {
      const space = spaces[i]
      if (space !== undefined) space.clear()
      else clears.push(clearRemote(tier, prefixes[i]!, report))
    })
    if (memoryOnly) return
    return Promise.all(clears).then(() => coherence?.announce(null, null, report))
  }

  const cacheInfo = (): CacheInfo => ({
    hits: stats.hits,
    misses: stats.misses,
    tierHits: [...stats.tierHits],
    staleHits: 0,
    errors: stats.errors,
    integrityFailures: stats.integrityFailures,
    notCacheable: stats.notCacheable,
    size: countedTier === undefined ? undefined : stats.entries.size,
    maxSize: countedTier?.memory?.maxSize,
  })

  const wrapped = memoryOnly ? memoryCall : asyncCall
  Object.defineProperty(wrapped, 'name', { value: fn.name })
  Object.defineProperty(wrapped, 'length', { value: fn.length })
  return Object.assign(wrapped, {
    cacheInfo,
    cacheClear,
    invalidate,
    key: (...args: unknown[]) => logicalKey(callKeys(undefined, args)),
    on: hub.on.bind(hub),
    original: fn,
  }) as unknown as CachedFunction<AnyFunction>
}

function noop(): void {}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}
