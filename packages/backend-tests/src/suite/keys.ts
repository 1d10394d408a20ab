import type { BackendSuite, CheckContext } from '../check.js'
import { expectValue, text, utf8Bytes } from './bytes.js'

/** Longest key the checks write, even when a backend declares more (Redis allows 512 MB). */
const LONGEST_KEY_CHECKED = 64 * 1024

function longKey({ backend, key }: CheckContext, unit: string, last: string): string {
  const budget = Math.min(backend.capabilities.maxKeyBytes, LONGEST_KEY_CHECKED)
  const room = budget - utf8Bytes(key('')) - utf8Bytes(last)
  return key(unit.repeat(Math.max(0, Math.floor(room / utf8Bytes(unit)))) + last)
}

async function expectDistinctRoundTrips(context: CheckContext, keys: readonly string[]): Promise<void> {
  const { backend } = context
  for (const k of keys) await backend.set({ key: k, value: text(k), expiresAt: null })
  for (const k of keys) expectValue(await backend.get(k), text(k))
  const entries = await backend.getMany(keys)
  keys.forEach((k, i) => expectValue(entries[i], text(k)))
}

/** Keys are opaque strings up to `maxKeyBytes` UTF-8 bytes; no two distinct keys may collide. */
export const keysSuite: BackendSuite = {
  name: 'keys',
  checks: [
    {
      name: 'round-trips ASCII keys of maxKeyBytes bytes that differ only in the last character',
      run: async (context) => {
        await expectDistinctRoundTrips(context, [longKey(context, 'k', 'a'), longKey(context, 'k', 'b')])
      },
    },
    {
      name: 'round-trips multi-byte keys up to maxKeyBytes bytes',
      run: async (context) => {
        await expectDistinctRoundTrips(context, [longKey(context, '鍵', '1'), longKey(context, 'ключ', '2')])
      },
    },
    {
      name: 'round-trips Unicode keys and keys with spaces, colons, slashes and dots',
      run: async (context) => {
        const names = ['ключ', '鍵', '🔑🗝️', 'with space', 'colon:separated:key', 'slash/separated/key', '../../x', '.', '..']
        await expectDistinctRoundTrips(context, names.map(context.key))
      },
    },
    {
      name: 'keeps apart keys that escaping or case folding could merge',
      run: async (context) => {
        const names = ['a/b', 'a_b', 'a%2Fb', 'a\\b', 'a-b', 'Key', 'key', 'KEY', 'é', 'e\u0301']
        await expectDistinctRoundTrips(context, names.map(context.key))
      },
    },
  ],
}
