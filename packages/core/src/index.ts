/**
 * dcache: cache a function's results with one line, in memory or any backend, or a chain of them.
 *
 * @packageDocumentation
 */
export type {
  BackendCapabilities,
  BackendHealth,
  BusFacet,
  CacheBackend,
  ClearOptions,
  EntryOrLock,
  EntryToStore,
  LocksFacet,
  OperationOptions,
  StoredEntry,
  TagsFacet,
} from './contract.js'
export { CONTRACT_VERSION } from './contract.js'
export type { BackendOperation, DcacheErrorCode, DcacheErrorFields } from './errors.js'
export { BackendError, DcacheError, DcacheTypeError } from './errors.js'
export type { EntryCounter, InMemoryBackendOptions, MemoryEntry, MemorySpace } from './memory.js'
export { InMemoryBackend } from './memory.js'
export { dcache } from './dcache.js'
export type { BackendWrapperOptions } from './dcache.js'
export type { CoherenceOptions, DcacheOptions, FunctionOptions, LockOptions, TierOptions, TierSpec } from './options.js'
export { DEFAULT_TIMEOUT } from './options.js'
export type {
  AnyFunction,
  CacheControls,
  CachedFunction,
  CachedResult,
  CacheInfo,
  CacheWrapper,
  DecoratableMethod,
  SyncOf,
  SyncOfBackend,
  WrapperOptions,
  AllMemory,
} from './types.js'
export type {
  DcacheEvent,
  DcacheEventType,
  DcacheListener,
  ErrorEvent,
  EvictEvent,
  HitEvent,
  IntegrityEvent,
  MissEvent,
  NotCacheableEvent,
  SetEvent,
} from './events.js'
export { DIAGNOSTICS_CHANNELS } from './events.js'
export { canonicalArgs, canonicalValue, digest } from './canonical.js'
export { CODEC_ID, decodeValue, encodeValue } from './codec.js'
export { ENVELOPE_VERSION, EnvelopeFlags, openEnvelope, sealEnvelope } from './envelope.js'
export type { Envelope, OpenResult, SealInput } from './envelope.js'
