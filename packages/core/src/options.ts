import { CONTRACT_VERSION, type CacheBackend } from './contract.js'
import { DcacheTypeError } from './errors.js'
import type { DcacheEvent } from './events.js'
import type { KeyFunction } from './keys.js'
import { InMemoryBackend } from './memory.js'

/** A tier with its own settings, in `backend` or `multiple`. Durations are milliseconds. */
export interface TierOptions<B extends CacheBackend = CacheBackend> {
  /** The storage of this tier. */
  readonly backend: B
  /** Lifetime of entries written to this tier; overrides the function's `ttl`. */
  readonly ttl?: number
  /** Deadline of each operation on this tier; overrides `timeout`. */
  readonly timeout?: number
}

/** A tier: a backend, or a backend with its own settings. */
export type TierSpec<B extends CacheBackend = CacheBackend> = B | TierOptions<B>

/** Settings of cross-process single-flight (`lock`). Durations are milliseconds. */
export interface LockOptions {
  /**
   * Lifetime of the lock. The holder renews it while the function runs, so it only runs out
   * when the holder dies: then another process takes over after at most this long.
   * @default 10_000
   */
  readonly ttl?: number
  /** How long a caller waits for another process's result before computing it itself. @default 30_000 */
  readonly wait?: number
}

/** Settings of cache coherence between processes. Durations are milliseconds. */
export interface CoherenceOptions {
  /**
   * While the bus is down (or not yet subscribed), values kept in memory tiers live at most this
   * long, so a change made by another process is seen after at most this delay.
   * @default 1_000
   */
  readonly staleness?: number
}

/** Options that describe one cached function. Durations are milliseconds. */
export interface FunctionOptions {
  /**
   * The function's identity in keys. Defaults to the function's `name` (`Class.method` for
   * decorated methods). Required for anonymous functions on any tier shared between processes.
   */
  readonly name?: string
  /** Bump to make every previously cached result of this function unreachable. @default 1 */
  readonly version?: string | number
  /** Keys are `dcache:<namespace>:…`: separates applications sharing a store. @default 'default' */
  readonly namespace?: string
  /** Lifetime of cached results, in milliseconds. @default no expiry: entries live until evicted */
  readonly ttl?: number
  /**
   * Builds the key from the call instead of all its arguments. Called with the same `this` and
   * arguments as the function; its result is canonicalised and hashed like arguments are.
   * @example `key: (user: User, page: number) => [user.id, page]`
   */
  readonly key?: (this: never, ...args: never[]) => unknown
  /**
   * Cross-process single-flight: on a miss everywhere, one process computes while the others
   * wait for its result in the shared tier. Needs a tier whose backend has the `locks` facet
   * (`RedisBackend`). If the lock cannot be reached, each process computes (still once per
   * process). `true` uses the defaults of {@link LockOptions}.
   * @default false
   */
  readonly lock?: boolean | LockOptions
}

/** Options of `dcache()`. Durations are milliseconds. */
export interface DcacheOptions extends FunctionOptions {
  /** One tier. Give `backend` or `multiple`, not both; neither means a new `InMemoryBackend`. */
  readonly backend?: TierSpec
  /** Tiers read in order: the first hit wins and backfills the tiers above it. */
  readonly multiple?: readonly TierSpec[]
  /** Deadline of each backend operation, in milliseconds. @default 1000 */
  readonly timeout?: number
  /** Sign envelopes with HMAC-SHA256 under this secret; unsigned or foreign entries become misses. */
  readonly secret?: string | Uint8Array
  /** Receives every event of every function wrapped with these options. */
  readonly onEvent?: (event: DcacheEvent) => void
  /**
   * Keep memory tiers coherent between processes: when a tier below them has a `bus`
   * (`RedisBackend`), a value written or invalidated in one process is evicted from the memory
   * tiers of the others. `false` turns it off.
   * @default true
   */
  readonly coherence?: boolean | CoherenceOptions
}

/** A tier with defaults filled in. */
export interface ResolvedTier {
  readonly index: number
  readonly backend: CacheBackend
  /** Set when the tier is an `InMemoryBackend`: the live-value fast path. */
  readonly memory: InMemoryBackend | undefined
  readonly ttl: number | undefined
  readonly timeout: number
}

/** {@link DcacheOptions} with defaults filled in and tiers resolved. */
export interface ResolvedOptions {
  readonly name: string | undefined
  readonly version: string
  readonly namespace: string
  readonly ttl: number | undefined
  readonly key: KeyFunction | undefined
  readonly timeout: number
  readonly secret: string | Uint8Array | undefined
  readonly onEvent: ((event: DcacheEvent) => void) | undefined
  readonly tiers: readonly ResolvedTier[]
  /** `undefined`: no cross-process lock. */
  readonly lock: Required<LockOptions> | undefined
  /** `undefined`: coherence turned off. */
  readonly coherence: Required<CoherenceOptions> | undefined
}

/** Default deadline of a backend operation, in milliseconds. */
export const DEFAULT_TIMEOUT = 1_000

const FUNCTION_KEYS = ['name', 'version', 'namespace', 'ttl', 'key', 'lock'] as const
const WRAPPER_KEYS = [...FUNCTION_KEYS, 'backend', 'multiple', 'timeout', 'secret', 'onEvent', 'coherence'] as const
const LOCK_KEYS = ['ttl', 'wait'] as const
const COHERENCE_KEYS = ['staleness'] as const
const TIER_KEYS = ['backend', 'ttl', 'timeout'] as const

/** `true` when `value` looks like a backend (any contract version), so it can be checked. */
export function isBackend(value: unknown): value is CacheBackend {
  return typeof value === 'object' && value !== null && 'contract' in value && typeof (value as CacheBackend).get === 'function'
}

/** Validate and fill in wrapper options; throws `DcacheTypeError` naming the bad option. */
export function resolveOptions(options: DcacheOptions): ResolvedOptions {
  checkKeys(options, WRAPPER_KEYS, 'dcache option')
  checkFunctionOptions(options)
  const timeout = duration(options.timeout, 'timeout') ?? DEFAULT_TIMEOUT
  if (options.backend !== undefined && options.multiple !== undefined) {
    throw invalid('give either `backend` or `multiple`, not both')
  }
  if (options.multiple !== undefined && (!Array.isArray(options.multiple) || options.multiple.length === 0)) {
    throw invalid('`multiple` must be a non-empty array of backends')
  }
  if (options.secret !== undefined && typeof options.secret !== 'string' && !(options.secret instanceof Uint8Array)) {
    throw invalid('`secret` must be a string or a Uint8Array')
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw invalid('`onEvent` must be a function')
  const specs = options.multiple ?? [options.backend ?? new InMemoryBackend()]
  return {
    name: options.name,
    version: String(options.version ?? 1),
    namespace: options.namespace ?? 'default',
    ttl: options.ttl,
    key: options.key as KeyFunction | undefined,
    timeout,
    secret: options.secret,
    onEvent: options.onEvent,
    tiers: specs.map((spec, index) => resolveTier(spec, index, timeout)),
    lock: resolveLock(options.lock),
    coherence: resolveCoherence(options.coherence),
  }
}

/** Merge per-function options over the wrapper's. */
export function withFunctionOptions(base: ResolvedOptions, options: FunctionOptions | undefined): ResolvedOptions {
  if (options === undefined) return base
  checkKeys(options, FUNCTION_KEYS, 'function option')
  checkFunctionOptions(options)
  return {
    ...base,
    name: options.name ?? base.name,
    version: options.version === undefined ? base.version : String(options.version),
    namespace: options.namespace ?? base.namespace,
    ttl: options.ttl ?? base.ttl,
    key: (options.key as KeyFunction | undefined) ?? base.key,
    lock: options.lock === undefined ? base.lock : resolveLock(options.lock),
  }
}

function resolveLock(lock: boolean | LockOptions | undefined): Required<LockOptions> | undefined {
  if (lock === undefined || lock === false) return undefined
  if (lock === true) return { ttl: 10_000, wait: 30_000 }
  checkKeys(lock, LOCK_KEYS, 'lock option')
  return { ttl: duration(lock.ttl, 'lock.ttl') ?? 10_000, wait: duration(lock.wait, 'lock.wait') ?? 30_000 }
}

function resolveCoherence(coherence: boolean | CoherenceOptions | undefined): Required<CoherenceOptions> | undefined {
  if (coherence === false) return undefined
  if (coherence === undefined || coherence === true) return { staleness: 1_000 }
  checkKeys(coherence, COHERENCE_KEYS, 'coherence option')
  return { staleness: duration(coherence.staleness, 'coherence.staleness') ?? 1_000 }
}

function resolveTier(spec: TierSpec, index: number, timeout: number): ResolvedTier {
  const tier: TierOptions = isBackend(spec) ? { backend: spec } : (spec as TierOptions)
  if (typeof tier !== 'object' || tier === null || !isBackend(tier.backend)) {
    throw invalid(`tier ${index} must be a backend or { backend, ttl?, timeout? }`)
  }
  if (!isBackend(spec)) checkKeys(tier, TIER_KEYS, `tier ${index} option`)
  const { backend } = tier
  if (backend.contract !== CONTRACT_VERSION) {
    throw new DcacheTypeError(
      'E_CONTRACT_VERSION',
      `backend "${String(backend.name)}" implements contract ${String(backend.contract)}, but this @dcache/core understands contract ${CONTRACT_VERSION}; upgrade @dcache/core or the backend package`,
    )
  }
  return {
    index,
    backend,
    memory: backend instanceof InMemoryBackend ? backend : undefined,
    ttl: duration(tier.ttl, `tier ${index} ttl`),
    timeout: duration(tier.timeout, `tier ${index} timeout`) ?? timeout,
  }
}

function checkFunctionOptions(options: FunctionOptions): void {
  if (options.name !== undefined && typeof options.name !== 'string') throw invalid('`name` must be a string')
  if (options.namespace !== undefined && (typeof options.namespace !== 'string' || options.namespace === '')) {
    throw invalid('`namespace` must be a non-empty string')
  }
  if (options.version !== undefined && typeof options.version !== 'string' && typeof options.version !== 'number') {
    throw invalid('`version` must be a string or a number')
  }
  if (options.key !== undefined && typeof options.key !== 'function') throw invalid('`key` must be a function')
  if (options.lock !== undefined && typeof options.lock !== 'boolean' && (typeof options.lock !== 'object' || options.lock === null)) {
    throw invalid('`lock` must be true, false or { ttl?, wait? }')
  }
  duration(options.ttl, 'ttl')
}

function duration(value: number | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw invalid(`\`${option}\` must be a positive number of milliseconds, got ${String(value)}`)
  }
  return value
}

function checkKeys(options: object, allowed: readonly string[], what: string): void {
  if (typeof options !== 'object' || options === null) throw invalid(`${what}s must be an object`)
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw invalid(`unknown ${what} \`${key}\` (expected one of: ${allowed.join(', ')})`)
  }
}

function invalid(message: string): DcacheTypeError {
  return new DcacheTypeError('E_INVALID_OPTION', `dcache: ${message}`)
}
