import type { CacheBackend } from '@dcache/core'
import type { MapBackend } from '../src/index.js'

/** `store` as a plain backend object (its facets included), with some members replaced. */
export function delegating(store: MapBackend, replaced: Partial<CacheBackend> = {}): CacheBackend {
  return {
    contract: 1,
    name: store.name,
    capabilities: store.capabilities,
    get: (key, options) => store.get(key, options),
    getMany: (keys, options) => store.getMany(keys, options),
    set: (entry, options) => store.set(entry, options),
    delete: (key, options) => store.delete(key, options),
    clear: (options) => store.clear(options),
    locks: store.locks,
    bus: store.bus,
    ...replaced,
  }
}
