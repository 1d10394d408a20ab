import { createCachedFunction } from './cached-function.js'
import type { CacheBackend } from './contract.js'
import { DcacheTypeError } from './errors.js'
import {
  isBackend,
  resolveOptions,
  withFunctionOptions,
  type DcacheOptions,
  type FunctionOptions,
  type ResolvedOptions,
} from './options.js'
import type { AnyFunction, CachedFunction, CacheWrapper, SyncOf, SyncOfBackend, WrapperOptions } from './types.js'

/** Options of `dcache(backend, options)`: everything but the tiers. */
export type BackendWrapperOptions = Omit<DcacheOptions, 'backend' | 'multiple'>

/**
 * Cache a function's results, like `functools.lru_cache`, in memory by default.
 * A sync function on memory-only tiers stays sync and returns its value.
 *
 * @example
 * ```ts
 * const fib = dcache((n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2)))
 * fib(90) // 2880067194370816000, instantly
 * ```
 */
export function dcache<F extends AnyFunction, const O extends DcacheOptions = object>(
  fn: F,
  options?: O,
): CachedFunction<F, SyncOf<O>>
/**
 * A wrapper that caches functions (and decorates methods) in `backend`.
 *
 * @example
 * ```ts
 * const cache = dcache(new RedisBackend(), { ttl: 60_000 })
 * const slowFunction = cache(async function slowFunction(n: number) { return n ** 10 })
 * class Reports { @cache async build(id: string) { … } }
 * ```
 */
export function dcache<B extends CacheBackend>(backend: B, options?: BackendWrapperOptions): CacheWrapper<SyncOfBackend<B>>
/**
 * A wrapper configured by options: `backend`, or `multiple` tiers read in order.
 *
 * @example
 * ```ts
 * const cache = dcache({ multiple: [new InMemoryBackend(), new RedisBackend()], ttl: 60_000 })
 * ```
 */
export function dcache<const O extends WrapperOptions>(options: O): CacheWrapper<SyncOf<O>>
export function dcache(first: unknown, second?: unknown): unknown {
  if (typeof first === 'function') {
    return wrapFunction(first as AnyFunction, resolveOptions((second ?? {}) as DcacheOptions))
  }
  if (isBackend(first)) {
    const options = (second ?? {}) as DcacheOptions
    if (options.backend !== undefined || options.multiple !== undefined) {
      throw new DcacheTypeError('E_INVALID_OPTION', 'dcache(backend, options): options cannot have `backend` or `multiple`')
    }
    return createWrapper(resolveOptions({ ...options, backend: first }))
  }
  if (typeof first === 'object' && first !== null) return createWrapper(resolveOptions(first as DcacheOptions))
  throw new DcacheTypeError(
    'E_INVALID_OPTION',
    `dcache() takes a function, a backend or an options object; got ${first === null ? 'null' : typeof first}`,
  )
}

let anonymousCount = 0

function wrapFunction(fn: AnyFunction, options: ResolvedOptions): CachedFunction<AnyFunction> {
  if (typeof fn !== 'function') {
    throw new DcacheTypeError('E_INVALID_OPTION', `dcache can only cache a function; got ${typeof fn}`)
  }
  let name = options.name ?? fn.name
  if (name === '') {
    const shared = options.tiers.find((tier) => tier.memory === undefined)
    if (shared !== undefined) {
      throw new DcacheTypeError(
        'E_ANONYMOUS_FUNCTION',
        `dcache: this function has no name, and tier ${shared.index} (${shared.backend.name}) is shared with other ` +
          'processes, where its keys would collide with those of other anonymous functions. ' +
          "Pass a name: cache(fn, { name: 'loadUser' }), or wrap a named function.",
      )
    }
    // In-process only: a unique name keeps anonymous functions apart in a shared memory tier.
    name = `anonymous#${++anonymousCount}`
  }
  return createCachedFunction(fn, name, options)
}

function createWrapper(options: ResolvedOptions): CacheWrapper<boolean> {
  const wrapper = (target: AnyFunction | FunctionOptions, second?: FunctionOptions | ClassMethodDecoratorContext): unknown => {
    if (typeof target !== 'function') {
      // @cache({ ttl }) — options first: return the decorator they configure
      const merged = withFunctionOptions(options, target)
      return (method: AnyFunction, context: ClassMethodDecoratorContext) => decorate(method, context, merged)
    }
    if (isMethodContext(second)) return decorate(target, second, options)
    return wrapFunction(target, withFunctionOptions(options, second))
  }
  return wrapper as unknown as CacheWrapper<boolean>
}

function isMethodContext(value: unknown): value is ClassMethodDecoratorContext {
  return (
    typeof value === 'object' &&
    value !== null &&
    'kind' in value &&
    typeof (value as ClassMethodDecoratorContext).addInitializer === 'function'
  )
}

/**
 * Replace a method with a cached one whose identity is `Class.method`. The class is known only
 * once an instance exists (TC39 decorators don't see it), so the cached function is built by an
 * initializer, or on the first call.
 */
function decorate(method: AnyFunction, context: ClassMethodDecoratorContext, options: ResolvedOptions): AnyFunction {
  if (context.kind !== 'method') {
    throw new DcacheTypeError('E_INVALID_OPTION', `@cache decorates methods only; it was applied to a ${String(context.kind)}`)
  }
  const methodName = String(context.name)
  let cached: CachedFunction<AnyFunction> | undefined

  const build = (thisArg: unknown): CachedFunction<AnyFunction> => {
    if (cached !== undefined) return cached
    const className = context.static ? (thisArg as AnyFunction).name : definingClassName(thisArg, context.name, replacement)
    const name = options.name ?? (className === '' ? '' : `${className}.${methodName}`)
    return (cached = wrapFunction(method, { ...options, name }))
  }

  function replacement(this: unknown, ...args: unknown[]): unknown {
    return (cached ?? build(this)).apply(this, args)
  }

  context.addInitializer(function (this: unknown) {
    build(this)
  })
  const whenBuilt = (): CachedFunction<AnyFunction> => {
    if (cached !== undefined) return cached
    throw new DcacheTypeError(
      'E_INVALID_OPTION',
      `@cache ${methodName}: no instance of its class exists yet, so the cached method has no identity`,
    )
  }
  Object.defineProperty(replacement, 'name', { value: methodName })
  return Object.assign(replacement, {
    cacheInfo: () => whenBuilt().cacheInfo(),
    cacheClear: () => whenBuilt().cacheClear(),
    invalidate: (...args: unknown[]) => whenBuilt().invalidate(...args),
    key: (...args: unknown[]) => whenBuilt().key(...args),
    on: (...args: Parameters<CachedFunction<AnyFunction>['on']>) => whenBuilt().on(...args),
    original: method,
  })
}

/** Name of the class that defines `replacement` (not a subclass that inherits it). */
function definingClassName(instance: unknown, key: string | symbol, replacement: AnyFunction): string {
  for (let proto = Object.getPrototypeOf(instance) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    if (Object.hasOwn(proto, key) && (proto as Record<string | symbol, unknown>)[key] === replacement) {
      return (proto as { constructor?: { name?: string } }).constructor?.name ?? ''
    }
  }
  // private methods live on no prototype: fall back to the instance's class
  return (instance as { constructor?: { name?: string } }).constructor?.name ?? ''
}
