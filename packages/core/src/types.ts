import type { CacheBackend } from './contract.js'
import type { DcacheEventType, DcacheListener } from './events.js'
import type { InMemoryBackend } from './memory.js'
import type { DcacheOptions, FunctionOptions, TierOptions } from './options.js'

/** Any function dcache can wrap. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest function type, only as a constraint
export type AnyFunction = (this: any, ...args: any[]) => any

/** The `lru_cache`-style statistics of one cached function. */
export interface CacheInfo {
  /** Calls answered from a tier. */
  readonly hits: number
  /** Calls that ran the function (concurrent calls sharing one run count once). */
  readonly misses: number
  /** Hits per tier, in tier order. */
  readonly tierHits: readonly number[]
  /** Hits served stale (reserved for grace periods; 0 today). */
  readonly staleHits: number
  /** Backend operations that failed or timed out (each treated as a miss or skipped write). */
  readonly errors: number
  /** Stored entries that failed to verify or decode (each treated as a miss). */
  readonly integrityFailures: number
  /** Results returned but not cached because they could not be encoded or were too large. */
  readonly notCacheable: number
  /** Entries of this function in its first in-memory tier; `undefined` without one. */
  readonly size: number | undefined
  /** That tier's `maxSize`; `undefined` without one. */
  readonly maxSize: number | undefined
}

/** `R` for sync tiers, a promise of the settled value otherwise. */
export type CachedResult<R, Sync extends boolean> = Sync extends true ? R : Promise<Awaited<R>>

/** The control methods added to every cached function. */
export interface CacheControls<F extends AnyFunction, Sync extends boolean> {
  /** Hits, misses, errors and size, like `functools.lru_cache`'s `cache_info()`. */
  cacheInfo(): CacheInfo
  /** Remove every cached result of this function (this name and version) from every tier. */
  cacheClear(): Sync extends true ? void : Promise<void>
  /** Remove the cached result for these arguments from every tier. */
  invalidate(...args: Parameters<F>): Sync extends true ? void : Promise<void>
  /** The logical key for these arguments: `dcache:<namespace>:<name>:<version>:<digest>`. */
  key(...args: Parameters<F>): string
  /** Listen to this function's events; returns the function that stops listening. */
  on<T extends DcacheEventType>(type: T, listener: DcacheListener<T>): () => void
  /** The function as it was before wrapping. */
  readonly original: F
}

/**
 * A cached function: same parameters as `F`; returns `F`'s result itself when every tier is in
 * memory, else a promise of it.
 */
export type CachedFunction<F extends AnyFunction, Sync extends boolean = boolean> = ((
  this: ThisParameterType<F>,
  ...args: Parameters<F>
) => CachedResult<ReturnType<F>, Sync>) &
  CacheControls<F, Sync>

/** A method that may be decorated when tiers are async: it must return a promise. */
export type DecoratableMethod<Sync extends boolean> = Sync extends true
  ? AnyFunction
  : // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any parameters, promise result
    (this: any, ...args: any[]) => PromiseLike<unknown>

/**
 * What `dcache(backend)` and `dcache({ … })` return: wraps functions, and decorates methods.
 *
 * @example
 * ```ts
 * const cache = dcache(new InMemoryBackend({ maxSize: 500 }))
 * const load = cache(async function load(id: string) { return db.get(id) })
 * class Reports {
 *   @cache async build(id: string) { … }
 *   @cache({ ttl: 5_000 }) async summary(id: string) { … }
 * }
 * ```
 */
export interface CacheWrapper<Sync extends boolean> {
  /** Cache `fn`, optionally with its own name, version, ttl or key. */
  <F extends AnyFunction>(fn: F, options?: FunctionOptions): CachedFunction<F, Sync>
  /** TC39 standard method decorator: `@cache method() {}`. */
  <M extends DecoratableMethod<Sync>>(method: M, context: ClassMethodDecoratorContext<unknown, M>): M
  /** A decorator with per-method options: `@cache({ ttl: 5_000 }) method() {}`. */
  (options: FunctionOptions): <M extends DecoratableMethod<Sync>>(method: M, context: ClassMethodDecoratorContext<unknown, M>) => M
}

type MemoryTier = InMemoryBackend | TierOptions<InMemoryBackend>

/** `true` when every tier in `T` is in memory. */
export type AllMemory<T> = [T] extends [MemoryTier] ? true : false

/** Whether options `O` give synchronous (memory-only) tiers. */
export type SyncOf<O> = O extends { readonly multiple: readonly (infer T)[] }
  ? AllMemory<T>
  : O extends { readonly backend: infer B }
    ? AllMemory<B>
    : true

/** Options as accepted by `dcache(options)`: exactly one of `backend` or `multiple`. */
export type WrapperOptions = DcacheOptions & ({ readonly backend: unknown } | { readonly multiple: unknown })

/** Whether a single backend is synchronous. */
export type SyncOfBackend<B extends CacheBackend> = AllMemory<B>
