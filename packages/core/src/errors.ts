/**
 * Errors with stable codes. Recognise them with {@link DcacheError.is}, which works even when two
 * copies of `@dcache/core` are installed (it checks a `Symbol.for` marker, not the class).
 */

const MARK: unique symbol = Symbol.for('dcache.error') as never

/** Every error code dcache uses. Codes are stable across releases; messages are not. */
export type DcacheErrorCode =
  | 'E_UNKEYABLE_ARGUMENT'
  | 'E_ANONYMOUS_FUNCTION'
  | 'E_INVALID_OPTION'
  | 'E_CONTRACT_VERSION'
  | 'E_BACKEND'
  | 'E_TIMEOUT'
  | 'E_INTEGRITY'
  | 'E_NOT_CACHEABLE'
  | 'E_ABORTED'

/** Fields common to every dcache error. */
export interface DcacheErrorFields {
  /** Stable, machine-readable code. */
  readonly code: DcacheErrorCode
}

function mark(error: Error, code: DcacheErrorCode): void {
  Object.defineProperty(error, MARK, { value: true })
  Object.defineProperty(error, 'code', { value: code, enumerable: true })
}

/**
 * Base class of dcache's runtime errors.
 *
 * @example
 * ```ts
 * cached.on('error', ({ error }) => {
 *   if (DcacheError.is(error, 'E_TIMEOUT')) metrics.increment('cache.timeout')
 * })
 * ```
 */
export class DcacheError extends Error implements DcacheErrorFields {
  declare readonly code: DcacheErrorCode

  constructor(code: DcacheErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'DcacheError'
    mark(this, code)
  }

  /** `true` when `error` came from dcache (any copy of it), optionally with this `code`. */
  static is(error: unknown, code?: DcacheErrorCode): error is Error & DcacheErrorFields {
    if (typeof error !== 'object' || error === null || !(MARK in error)) return false
    return code === undefined || (error as unknown as DcacheErrorFields).code === code
  }
}

/**
 * Misuse found while wrapping or calling: an argument that cannot be part of a key, an anonymous
 * function on a shared tier, a bad option. It is a `TypeError`, and `DcacheError.is()` knows it.
 */
export class DcacheTypeError extends TypeError implements DcacheErrorFields {
  declare readonly code: DcacheErrorCode

  constructor(code: DcacheErrorCode, message: string) {
    super(message)
    this.name = 'DcacheTypeError'
    mark(this, code)
  }
}

/** The backend operations named in {@link BackendError}. */
export type BackendOperation =
  | 'get'
  | 'getMany'
  | 'set'
  | 'setMany'
  | 'delete'
  | 'deleteMany'
  | 'clear'
  | 'prune'
  | 'health'
  | 'close'
  | 'lock'
  | 'publish'
  | 'subscribe'

/**
 * A backend operation failed or missed its deadline. dcache never throws it to the caller of a
 * cached function: it is reported through events and `cacheInfo().errors`.
 */
export class BackendError extends DcacheError {
  /** The backend's `name` (`redis`, `memory`, …). */
  readonly backend: string
  /** The operation that failed. */
  readonly operation: BackendOperation

  constructor(
    backend: string,
    operation: BackendOperation,
    cause: unknown,
    code: 'E_BACKEND' | 'E_TIMEOUT' = 'E_BACKEND',
  ) {
    super(code, `[dcache:${backend}] ${operation} failed: ${describeCause(cause)}`, { cause })
    this.name = 'BackendError'
    this.backend = backend
    this.operation = operation
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message
  return String(cause)
}
