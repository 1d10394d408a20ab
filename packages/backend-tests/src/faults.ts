/** Operations whose faults can be set one by one; `all` covers every data operation at once. */
export type ChaosOperation = 'get' | 'getMany' | 'set' | 'delete' | 'clear'

/**
 * A failure injected into an operation:
 * - `'hang'`: never settles, but rejects as soon as the call's `signal` aborts; holds no timer.
 * - `'throw'`: throws synchronously from the method, before any promise exists.
 * - `'reject'`: returns a rejected promise.
 * - `{ slow: ms }`: waits `ms` milliseconds, then delegates; rejects early when the signal aborts.
 * - `{ flaky: probability, seed }`: rejects with that probability, else delegates. The draw comes
 *   from a PRNG seeded with `seed` (default 1), so a run is reproducible.
 */
export type FailureFault =
  | 'hang'
  | 'throw'
  | 'reject'
  | { readonly slow: number }
  | { readonly flaky: number; readonly seed?: number }

/**
 * A fault for reads: any {@link FailureFault}, or damage to the bytes that come back.
 * - `'corrupt'`: flips one bit in every non-empty value returned.
 * - `'truncate'`: returns the first half of every value's bytes.
 */
export type ReadFault = FailureFault | 'corrupt' | 'truncate'

/** Any fault {@link ChaosBackend} can inject. */
export type ChaosFault = ReadFault

/**
 * Faults per operation. A specific operation's fault wins over `all`. `setMany` follows `set`,
 * `deleteMany` follows `delete`; `prune` and `health` only follow `all`. Damage faults
 * (`corrupt`, `truncate`) under `all` apply to reads and leave other operations alone.
 */
export interface ChaosFaults {
  /** Fault of `get`. */
  readonly get?: ReadFault | undefined
  /** Fault of `getMany`. */
  readonly getMany?: ReadFault | undefined
  /** Fault of `set` and `setMany`. */
  readonly set?: FailureFault | undefined
  /** Fault of `delete` and `deleteMany`. */
  readonly delete?: FailureFault | undefined
  /** Fault of `clear`. */
  readonly clear?: FailureFault | undefined
  /** Fault of every data operation without a fault of its own (not `close` or facets). */
  readonly all?: ChaosFault | undefined
}

/** The methods {@link ChaosBackend} counts calls of. */
export type ChaosCallName =
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

/** Calls per method since creation or the last `resetCalls()`, faulted or not. */
export type ChaosCallCounts = Readonly<Record<ChaosCallName, number>>

/** The error of an injected `throw`, `reject` or `flaky` fault. */
export class ChaosError extends Error {
  /** The method that was called. */
  readonly operation: ChaosCallName
  /** The fault that failed it. */
  readonly fault: 'throw' | 'reject' | 'flaky'

  constructor(backend: string, operation: ChaosCallName, fault: 'throw' | 'reject' | 'flaky') {
    super(`[dcache:${backend}] ${operation} failed: injected ${fault} fault`)
    this.name = 'ChaosError'
    this.operation = operation
    this.fault = fault
  }
}
