import { InMemoryBackend, type CacheBackend } from '../src/index.js'

/**
 * A byte-only tier for tests: an InMemoryBackend seen only through the backend contract, so the
 * core treats it like a remote store (encode, envelope, deadlines) without any server.
 */
export function remoteTier(name = 'remote'): CacheBackend & { readonly store: InMemoryBackend } {
  const store = new InMemoryBackend({ maxSize: 100_000 })
  return {
    contract: 1,
    name,
    capabilities: { ...store.capabilities, nativeExpiry: false },
    store,
    get: (key, options) => store.get(key, options),
    getMany: (keys, options) => store.getMany(keys, options),
    set: (entry, options) => store.set(entry, options),
    delete: (key, options) => store.delete(key, options),
    clear: (options) => store.clear(options),
  }
}

/** Resolves after pending microtasks and one macrotask turn. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
