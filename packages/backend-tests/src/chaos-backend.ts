import type {
  BackendHealth,
  CacheBackend,
  ClearOptions,
  EntryToStore,
  OperationOptions,
  StoredEntry,
} from '@dcache/core'
import { delay, never } from './abortable.js'
import { type Damage, damageEntry } from './damage.js'
import { type ChaosCallCounts, type ChaosCallName, ChaosError, type ChaosFault, type ChaosFaults, type ChaosOperation } from './faults.js'
import { MapBackend } from './map-backend.js'
import { seededRandom } from './seeded-random.js'

type FaultSlot = ChaosOperation | 'all'

function zeroCounts(): Record<ChaosCallName, number> {
  return { get: 0, getMany: 0, set: 0, setMany: 0, delete: 0, deleteMany: 0, clear: 0, prune: 0, health: 0, close: 0 }
}

/**
 * Wraps a backend and injects failures into it, for failure tests of the core: hangs, throws,
 * rejections, slowness, seeded flakiness and damaged bytes. Faults can change at any time.
 * Facets (`locks`, `tags`, `bus`) and `close` pass straight through to the inner backend.
 *
 * @example
 * ```ts
 * const chaos = new ChaosBackend(new MapBackend(), { get: 'hang' })
 * const cached = dcache(chaos, { timeout: 50 })(fetchUser)
 * await cached(1) // the get times out: a miss, and fetchUser runs
 * chaos.setFaults({ all: { flaky: 0.3, seed: 42 } })
 * chaos.heal()
 * expect(chaos.calls.get).toBe(1)
 * ```
 */
export class ChaosBackend implements CacheBackend {
  readonly contract = 1
  readonly name: string
  readonly capabilities: CacheBackend['capabilities']
  readonly locks: CacheBackend['locks']
  readonly tags: CacheBackend['tags']
  readonly bus: CacheBackend['bus']
  /** The wrapped backend, untouched by faults. */
  readonly inner: CacheBackend
  #faults: ChaosFaults = {}
  #draws = new Map<FaultSlot, () => number>()
  #calls = zeroCounts()

  constructor(inner: CacheBackend = new MapBackend(), faults: ChaosFaults = {}) {
    this.inner = inner
    this.name = `chaos:${inner.name}`
    this.capabilities = inner.capabilities
    this.locks = inner.locks
    this.tags = inner.tags
    this.bus = inner.bus
    this.setFaults(faults)
  }

  /** Calls per method, counted whether or not a fault hit them. */
  get calls(): ChaosCallCounts {
    return this.#calls
  }

  /** Sets every fault to zero calls again. */
  resetCalls(): void {
    this.#calls = zeroCounts()
  }

  /** The faults in force. */
  get faults(): ChaosFaults {
    return this.#faults
  }

  /** Replaces every fault (operations not named are healed), and reseeds flaky faults. */
  setFaults(faults: ChaosFaults): void {
    this.#faults = { ...faults }
    this.#draws = new Map()
    for (const [slot, fault] of Object.entries(this.#faults) as [FaultSlot, ChaosFault | undefined][]) {
      if (typeof fault === 'object' && 'flaky' in fault) this.#draws.set(slot, seededRandom(fault.seed ?? 1))
    }
  }

  /** Removes every fault. */
  heal(): void {
    this.setFaults({})
  }

  get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined> {
    return this.#call('get', 'get', options, () => this.inner.get(key, options), (entry, damage) =>
      damageEntry(entry, damage),
    )
  }

  getMany(keys: readonly string[], options?: OperationOptions): Promise<(StoredEntry | undefined)[]> {
    return this.#call('getMany', 'getMany', options, () => this.inner.getMany(keys, options), (entries, damage) =>
      entries.map((entry) => damageEntry(entry, damage)),
    )
  }

  set(entry: EntryToStore, options?: OperationOptions): Promise<void> {
    return this.#call('set', 'set', options, () => this.inner.set(entry, options))
  }

  /** Delegates to the inner `setMany`, or to `set` per entry when it has none. */
  setMany(entries: readonly EntryToStore[], options?: OperationOptions): Promise<void> {
    return this.#call('setMany', 'set', options, async () => {
      if (this.inner.setMany) return this.inner.setMany(entries, options)
      await Promise.all(entries.map((entry) => this.inner.set(entry, options)))
    })
  }

  delete(key: string, options?: OperationOptions): Promise<void> {
    return this.#call('delete', 'delete', options, () => this.inner.delete(key, options))
  }

  /** Delegates to the inner `deleteMany`, or to `delete` per key when it has none. */
  deleteMany(keys: readonly string[], options?: OperationOptions): Promise<void> {
    return this.#call('deleteMany', 'delete', options, async () => {
      if (this.inner.deleteMany) return this.inner.deleteMany(keys, options)
      await Promise.all(keys.map((key) => this.inner.delete(key, options)))
    })
  }

  /** Delegates to the inner `clear`; resolves without doing anything when it has none. */
  clear(options?: ClearOptions): Promise<void> {
    return this.#call('clear', 'clear', options, async () => this.inner.clear?.(options))
  }

  /** Delegates to the inner `prune`; resolves to 0 when it has none. */
  prune(options?: OperationOptions): Promise<number> {
    return this.#call('prune', undefined, options, async () => (await this.inner.prune?.(options)) ?? 0)
  }

  /** Delegates to the inner `health`; `{ ok: true }` when it has none. */
  health(options?: OperationOptions): Promise<BackendHealth> {
    return this.#call('health', undefined, options, async () => (await this.inner.health?.(options)) ?? { ok: true })
  }

  /** Closes the inner backend: the chaos wrapper is transparent, not an owner boundary. */
  async close(): Promise<void> {
    this.#calls.close++
    await this.inner.close?.()
  }

  #call<T>(
    name: ChaosCallName,
    slot: ChaosOperation | undefined,
    options: OperationOptions | undefined,
    delegate: () => Promise<T>,
    damage?: (result: T, damage: Damage) => T,
  ): Promise<T> {
    this.#calls[name]++
    const specific = slot === undefined ? undefined : this.#faults[slot]
    const fault = specific ?? this.#faults.all
    const drawSlot: FaultSlot = specific === undefined ? 'all' : (slot as ChaosOperation)
    if (fault === undefined) return delegate()
    if (fault === 'throw') throw new ChaosError(this.name, name, 'throw')
    if (fault === 'reject') return Promise.reject(new ChaosError(this.name, name, 'reject'))
    if (fault === 'hang') return never(options?.signal)
    if (fault === 'corrupt' || fault === 'truncate') {
      return damage ? delegate().then((result) => damage(result, fault)) : delegate()
    }
    if ('slow' in fault) return delay(fault.slow, options?.signal).then(delegate)
    const draw = this.#draws.get(drawSlot)?.() ?? 1
    return draw < fault.flaky ? Promise.reject(new ChaosError(this.name, name, 'flaky')) : delegate()
  }
}
