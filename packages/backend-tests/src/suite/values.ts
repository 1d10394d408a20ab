import type { CacheBackend } from '@dcache/core'
import { expect } from 'vitest'
import type { BackendCheck, BackendSuite } from '../check.js'
import { expectMiss, expectValue, LARGE_VALUE_BYTES, patternBytes, text } from './bytes.js'

/** A far-away expiry, so real-clock runs never see these entries expire mid-check. */
const AN_HOUR_MS = 60 * 60 * 1000

function roundTrip(name: string, makeValue: (backend: CacheBackend) => Uint8Array): BackendCheck {
  return {
    name,
    run: async ({ backend, key }) => {
      const value = makeValue(backend)
      await backend.set({ key: key('value'), value: value.slice(), expiresAt: null })
      expectValue(await backend.get(key('value')), value)
    },
  }
}

/** Reads, writes, overwrites and deletes of single entries. */
export const valuesSuite: BackendSuite = {
  name: 'values',
  checks: [
    {
      name: 'returns undefined for a missing key',
      run: async ({ backend, key }) => {
        expectMiss(await backend.get(key('never-written')), 'a miss must be undefined, never null')
      },
    },
    roundTrip('round-trips an empty value', () => new Uint8Array(0)),
    roundTrip('round-trips a value full of 0x00 bytes', () => new Uint8Array(1024)),
    roundTrip('round-trips all 256 byte values', () => Uint8Array.from({ length: 256 }, (_, i) => i)),
    roundTrip('round-trips a 1 MiB value (or maxValueBytes when smaller)', (backend) =>
      patternBytes(Math.min(LARGE_VALUE_BYTES, backend.capabilities.maxValueBytes ?? Infinity)),
    ),
    {
      name: 'keeps what was set when the caller mutates its array afterwards',
      run: async ({ backend, key }) => {
        const value = patternBytes(64)
        const original = value.slice()
        await backend.set({ key: key('value'), value, expiresAt: null })
        value.fill(0xee)
        expectValue(await backend.get(key('value')), original)
      },
    },
    {
      name: 'replaces the value on overwrite',
      run: async ({ backend, key }) => {
        await backend.set({ key: key('value'), value: text('first, longer value'), expiresAt: null })
        await backend.set({ key: key('value'), value: text('second'), expiresAt: null })
        expectValue(await backend.get(key('value')), text('second'))
      },
    },
    {
      name: 'replaces the expiry on overwrite',
      run: async ({ backend, key, clock }) => {
        await backend.set({ key: key('value'), value: text('a'), expiresAt: clock.now() + AN_HOUR_MS })
        await backend.set({ key: key('value'), value: text('b'), expiresAt: null })
        expect((await backend.get(key('value')))?.expiresAt).toBeNull()
      },
    },
    {
      name: 'round-trips a null expiresAt as null',
      run: async ({ backend, key }) => {
        await backend.set({ key: key('value'), value: text('forever'), expiresAt: null })
        const entry = await backend.get(key('value'))
        expectValue(entry, text('forever'))
        expect(entry?.expiresAt).toBeNull()
      },
    },
    {
      name: 'round-trips a future expiresAt within expiryResolution',
      run: async ({ backend, key, clock }) => {
        const expiresAt = clock.now() + AN_HOUR_MS
        const started = clock.now()
        await backend.set({ key: key('value'), value: text('later'), expiresAt })
        const entry = await backend.get(key('value'))
        // A backend that stores a TTL and reads back "now + remaining" drifts by the elapsed time.
        const elapsed = clock.now() - started
        expect(entry?.expiresAt).toBeTypeOf('number')
        const drift = Math.abs((entry?.expiresAt ?? Number.NaN) - expiresAt)
        expect(drift).toBeLessThanOrEqual(backend.capabilities.expiryResolution + elapsed)
      },
    },
    {
      name: 'removes an entry on delete',
      run: async ({ backend, key }) => {
        await backend.set({ key: key('value'), value: text('x'), expiresAt: null })
        await backend.delete(key('value'))
        expectMiss(await backend.get(key('value')))
      },
    },
    {
      name: 'resolves when deleting a missing key',
      run: async ({ backend, key }) => {
        await expect(backend.delete(key('never-written'))).resolves.toBeUndefined()
      },
    },
  ],
}
