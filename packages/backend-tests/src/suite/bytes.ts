import type { StoredEntry } from '@dcache/core'
import { expect } from 'vitest'

/** 1 MiB: the largest value the round-trip check writes, unless `maxValueBytes` is smaller. */
export const LARGE_VALUE_BYTES = 1024 * 1024

/** `length` bytes of a repeating, position-dependent pattern, so shifted or swapped bytes show. */
export function patternBytes(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff
  return bytes
}

/** The UTF-8 length of a key, the unit of `maxKeyBytes`. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

/**
 * Asserts a hit whose value is a `Uint8Array` with exactly `expected`'s bytes. Reports the first
 * differing index instead of diffing a megabyte.
 */
export function expectValue(entry: StoredEntry | undefined, expected: Uint8Array): void {
  expect(entry, 'expected a hit, got a miss').toBeDefined()
  const actual = entry?.value
  expect(actual, 'value must be a Uint8Array').toBeInstanceOf(Uint8Array)
  if (!(actual instanceof Uint8Array)) return
  expect(actual.byteLength, 'value length').toBe(expected.byteLength)
  const differsAt = actual.findIndex((byte, i) => byte !== expected[i])
  expect(differsAt, `value differs from what was set at byte ${differsAt}`).toBe(-1)
}

/** Asserts a miss: `undefined`, never `null` or an empty entry. */
export function expectMiss(entry: StoredEntry | undefined, what = 'expected a miss'): void {
  expect(entry, what).toBeUndefined()
}

/** Bytes of a short text, for values that only need to be told apart. */
export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value)
}
