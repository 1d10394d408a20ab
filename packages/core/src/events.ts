import diagnostics from 'node:diagnostics_channel'
import type { BackendError, DcacheError } from './errors.js'

interface EventBase {
  /** The cached function's name (its identity in keys). */
  readonly name: string
  /** The logical key. */
  readonly key: string
}

interface TierEventBase extends EventBase {
  /** Index of the tier in `multiple` (0 is the first). */
  readonly tier: number
  /** The tier backend's `name`. */
  readonly backend: string
}

/** A value was served from `tier`. */
export interface HitEvent extends TierEventBase {
  readonly type: 'hit'
}

/** No tier had the value: the function runs. */
export interface MissEvent extends EventBase {
  readonly type: 'miss'
}

/** A value was written to `tier`. */
export interface SetEvent extends TierEventBase {
  readonly type: 'set'
}

/** A backend operation failed or timed out; it was treated as a miss or a skipped write. */
export interface ErrorEvent extends TierEventBase {
  readonly type: 'error'
  readonly error: BackendError
}

/** Stored bytes failed to decode or verify (corrupt, truncated, foreign key, unknown version): a miss. */
export interface IntegrityEvent extends TierEventBase {
  readonly type: 'integrity'
  readonly reason: string
}

/** The result could not be encoded: it was returned to the caller but not cached. */
export interface NotCacheableEvent extends EventBase {
  readonly type: 'not-cacheable'
  readonly reason: string
  readonly error: DcacheError
}

/**
 * Another process (or another wrapper of this function) wrote or invalidated the key: it was
 * removed from this function's memory tiers. `key` is the logical key, or the function's key
 * prefix when the whole function was cleared.
 */
export interface EvictEvent extends EventBase {
  readonly type: 'evict'
  readonly reason: 'coherence' | 'bus-down'
}

/** Every event dcache emits, discriminated by `type`. */
export type DcacheEvent = HitEvent | MissEvent | SetEvent | ErrorEvent | IntegrityEvent | NotCacheableEvent | EvictEvent

/** The `type` of a {@link DcacheEvent}. */
export type DcacheEventType = DcacheEvent['type']

/** Listener for events of type `T`. */
export type DcacheListener<T extends DcacheEventType = DcacheEventType> = (event: Extract<DcacheEvent, { type: T }>) => void

/**
 * `node:diagnostics_channel` names, one per event type. Subscribing costs nothing when unused.
 *
 * @example
 * ```ts
 * import diagnostics from 'node:diagnostics_channel'
 * diagnostics.subscribe(DIAGNOSTICS_CHANNELS.error, (event) => log.warn(event))
 * ```
 */
export const DIAGNOSTICS_CHANNELS = Object.freeze({
  hit: 'dcache:hit',
  miss: 'dcache:miss',
  set: 'dcache:set',
  error: 'dcache:error',
  integrity: 'dcache:integrity',
  'not-cacheable': 'dcache:not-cacheable',
  evict: 'dcache:evict',
} as const satisfies Record<DcacheEventType, string>)

const channels = {
  hit: diagnostics.channel(DIAGNOSTICS_CHANNELS.hit),
  miss: diagnostics.channel(DIAGNOSTICS_CHANNELS.miss),
  set: diagnostics.channel(DIAGNOSTICS_CHANNELS.set),
  error: diagnostics.channel(DIAGNOSTICS_CHANNELS.error),
  integrity: diagnostics.channel(DIAGNOSTICS_CHANNELS.integrity),
  'not-cacheable': diagnostics.channel(DIAGNOSTICS_CHANNELS['not-cacheable']),
  evict: diagnostics.channel(DIAGNOSTICS_CHANNELS.evict),
} satisfies Record<DcacheEventType, diagnostics.Channel>

/**
 * Fan-out of events to listeners of one cached function (plus the wrapper's `onEvent`) and to
 * diagnostics channels. `wants(type)` lets the hot path skip building an event nobody reads.
 */
export class EventHub {
  readonly #listeners = new Map<DcacheEventType, Set<(event: DcacheEvent) => void>>()
  readonly #onEvent: ((event: DcacheEvent) => void) | undefined

  constructor(onEvent?: (event: DcacheEvent) => void) {
    this.#onEvent = onEvent
  }

  /** `true` when someone would receive an event of this type. */
  wants(type: DcacheEventType): boolean {
    return this.#onEvent !== undefined || (this.#listeners.size > 0 && this.#listeners.has(type)) || channels[type].hasSubscribers
  }

  /** {@link wants} for `hit`, the one asked on every memory hit: no lookup when nobody listens. */
  wantsHit(): boolean {
    return this.#onEvent !== undefined || (this.#listeners.size > 0 && this.#listeners.has('hit')) || channels.hit.hasSubscribers
  }

  /** `true` when someone would receive a `miss` or a `set` event: the sync miss path asks once. */
  wantsMissOrSet(): boolean {
    return (
      this.#onEvent !== undefined ||
      (this.#listeners.size > 0 && (this.#listeners.has('miss') || this.#listeners.has('set'))) ||
      channels.miss.hasSubscribers ||
      channels.set.hasSubscribers
    )
  }

  /** Add a listener; returns the function that removes it. */
  on<T extends DcacheEventType>(type: T, listener: DcacheListener<T>): () => void {
    let set = this.#listeners.get(type)
    if (set === undefined) this.#listeners.set(type, (set = new Set()))
    const untyped = listener as unknown as (event: DcacheEvent) => void
    set.add(untyped)
    return () => {
      set.delete(untyped)
      if (set.size === 0) this.#listeners.delete(type)
    }
  }

  /** Deliver `event`. A listener that throws is isolated: the cache keeps working. */
  emit(event: DcacheEvent): void {
    const channel = channels[event.type]
    if (channel.hasSubscribers) channel.publish(event)
    if (this.#onEvent !== undefined) safely(this.#onEvent, event)
    const set = this.#listeners.get(event.type)
    if (set !== undefined) for (const listener of set) safely(listener, event)
  }
}

function safely(listener: (event: DcacheEvent) => void, event: DcacheEvent): void {
  try {
    listener(event)
  } catch (error) {
    // A broken listener must not break caching; surface it without throwing into the caller.
    queueMicrotask(() => {
      process.emitWarning(`dcache: an event listener threw: ${String(error)}`, 'DcacheListenerWarning')
    })
  }
}
