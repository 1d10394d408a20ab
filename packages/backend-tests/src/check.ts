import type { CacheBackend } from '@dcache/core'
import type { TestClock } from './clock.js'

/** Creates a fresh backend instance; called once per check. */
export type BackendFactory = () => CacheBackend | Promise<CacheBackend>

/** Creates a backend whose keys live under `prefix` on a store shared with other instances. */
export type PrefixedBackendFactory = (prefix: string) => CacheBackend | Promise<CacheBackend>

/** What one conformance check gets to work with. */
export interface CheckContext {
  /** A fresh instance from `create`; closed (and cleaned of the check's keys) afterwards. */
  readonly backend: CacheBackend
  /** Real or fake time, as chosen by `clock`. */
  readonly clock: TestClock
  /** A prefix unique to this check in this run, so checks can share a real server. */
  readonly prefix: string
  /** `prefix + name`, remembered so the harness deletes it after the check. */
  key(name: string): string
  /**
   * Opens another instance (e.g. from `createWithPrefix`) that the harness cleans up and closes
   * after the check, like {@link backend}.
   */
  open(factory: BackendFactory): Promise<CacheBackend>
  /** The factory for prefixed instances, when the caller gave one. */
  readonly createWithPrefix: PrefixedBackendFactory | undefined
  /** The factory for plain instances. */
  readonly create: BackendFactory
}

/** One conformance check: a sentence that must hold for every backend. */
export interface BackendCheck {
  /** Reads as a specification, e.g. `returns undefined for a missing key`. */
  readonly name: string
  /**
   * Why the check does not apply to this backend (an optional method or facet it lacks), or
   * `undefined` when it does.
   */
  readonly unlessSupported?: (context: CheckContext) => string | undefined
  /** Rejects (usually with an assertion error) when the backend breaks the contract. */
  readonly run: (context: CheckContext) => Promise<void>
}

/** Names of the sub-suites, usable in `DescribeBackendOptions.skip`. */
export type SuiteName =
  | 'shape'
  | 'values'
  | 'batch'
  | 'expiry'
  | 'clear'
  | 'keys'
  | 'maintenance'
  | 'abort'
  | 'lifecycle'
  | 'prefix'
  | 'locks'
  | 'tags'
  | 'bus'

/** A group of checks about one concern, registered as a nested `describe`. */
export interface BackendSuite {
  /** The name used in test titles and in `DescribeBackendOptions.skip`. */
  readonly name: SuiteName
  /** The checks, in the order they are registered. */
  readonly checks: readonly BackendCheck[]
}
