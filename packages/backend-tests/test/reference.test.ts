import { type CacheBackend, type EntryToStore, InMemoryBackend, type OperationOptions, type StoredEntry } from '@dcache/core'
import { describe, expect, it } from 'vitest'
import { type BackendCheck, backendSuites, describeBackend, MapBackend, runCheck } from '../src/index.js'

describeBackend('MapBackend (fake clock)', {
  create: () => new MapBackend(),
  clock: 'fake',
  createWithPrefix: sharedStore(),
})

describeBackend('MapBackend (real clock)', {
  create: () => new MapBackend(),
  clock: 'real',
  createWithPrefix: sharedStore(),
})

// DESIGN §5: the core's own memory tier passes the same suite as every other backend.
describeBackend('InMemoryBackend', { create: () => new InMemoryBackend(), clock: 'fake' })

function sharedStore() {
  const store = new MapBackend()
  return (prefix: string) => new MapBackend({ prefix, sharedWith: store })
}

function check(suite: string, name: string): BackendCheck {
  const found = backendSuites.find((s) => s.name === suite)?.checks.find((c) => c.name === name)
  if (!found) throw new Error(`no check "${name}" in suite "${suite}"`)
  return found
}

/** A MapBackend with one deliberate defect, to prove the suite notices it. */
class BrokenBackend extends MapBackend {
  constructor(private readonly defect: 'null-miss' | 'ignores-expiry' | 'keeps-input' | 'ignores-abort') {
    super()
  }

  override async get(key: string, options?: OperationOptions): Promise<StoredEntry | undefined> {
    if (this.defect === 'ignores-abort') return super.get(key)
    const hit = await super.get(key, options)
    if (hit === undefined && this.defect === 'null-miss') return null as unknown as undefined
    return hit
  }

  override async set(entry: EntryToStore, options?: OperationOptions): Promise<void> {
    if (this.defect === 'ignores-expiry') return super.set({ ...entry, expiresAt: null }, options)
    return super.set(entry, options)
  }

  override async getMany(keys: readonly string[], options?: OperationOptions) {
    return Promise.all(keys.map((key) => this.get(key, options)))
  }
}

describe('the suite fails a broken backend', () => {
  const broken = (defect: ConstructorParameters<typeof BrokenBackend>[0]) => ({
    create: (): CacheBackend => new BrokenBackend(defect),
    clock: 'fake' as const,
  })

  it('fails a backend that returns null on a miss', async () => {
    await expect(runCheck(check('values', 'returns undefined for a missing key'), broken('null-miss'))).rejects.toThrow(
      /never null/,
    )
  })

  it('fails a backend that ignores expiresAt', async () => {
    const past = check('expiry', 'never returns an entry whose expiresAt is in the past (get)')
    const soon = check('expiry', 'returns an entry before it expires and a miss after (get and getMany)')
    await expect(runCheck(past, broken('ignores-expiry'))).rejects.toThrow(/already expired/)
    await expect(runCheck(soon, broken('ignores-expiry'))).rejects.toThrow(/after expiry/)
  })

  it('fails a backend that ignores an aborted signal', async () => {
    await expect(
      runCheck(check('abort', 'get rejects when its signal is already aborted'), broken('ignores-abort')),
    ).rejects.toThrow()
  })

  it('passes the same checks on the correct backend', async () => {
    const subject = { create: () => new MapBackend(), clock: 'fake' as const }
    await expect(runCheck(check('values', 'returns undefined for a missing key'), subject)).resolves.toEqual({
      status: 'passed',
    })
  })

  it('reports a check as skipped, with the reason, when the backend lacks what it needs', async () => {
    const outcome = await runCheck(check('prefix', "instances with different prefixes do not see each other's keys"), {
      create: () => new MapBackend(),
    })
    expect(outcome).toEqual({ status: 'skipped', reason: 'no createWithPrefix option was given' })
  })
})
