import type { BackendSuite, CheckContext } from '../check.js'
import { expectMiss, expectValue, text } from './bytes.js'

const needsClear = ({ backend }: CheckContext) => (backend.clear ? undefined : 'the backend has no clear (optional)')

/** Whole and scoped `clear`. */
export const clearSuite: BackendSuite = {
  name: 'clear',
  checks: [
    {
      // Against a shared server this wipes the backend's namespace: point `create` at a test one.
      name: 'clear() removes every entry of this backend',
      unlessSupported: needsClear,
      run: async ({ backend, key }) => {
        const keys = [key('a'), key('b'), key('nested:c')]
        for (const k of keys) await backend.set({ key: k, value: text(k), expiresAt: null })
        await backend.clear?.()
        for (const entry of await backend.getMany(keys)) expectMiss(entry, 'entry left after clear()')
      },
    },
    {
      name: 'clear({ prefix }) removes only keys that start with the prefix',
      unlessSupported: needsClear,
      run: async ({ backend, key }) => {
        const doomed = [key('users:1'), key('users:2'), key('users:')]
        const kept = [key('user'), key('posts:users:1'), key('Users:1')]
        for (const k of [...doomed, ...kept]) await backend.set({ key: k, value: text(k), expiresAt: null })
        await backend.clear?.({ prefix: key('users:') })
        const entries = await backend.getMany([...doomed, ...kept])
        doomed.forEach((k, i) => expectMiss(entries[i], `${k} should have been cleared`))
        kept.forEach((k, i) => expectValue(entries[doomed.length + i], text(k)))
      },
    },
    {
      // Redis SCAN MATCH and regexes give these characters meaning; a prefix is plain text.
      name: 'clear({ prefix }) treats glob and regex characters in the prefix literally',
      unlessSupported: needsClear,
      run: async ({ backend, key }) => {
        const prefix = key('a*[b]?.+\\:')
        const doomed = key('a*[b]?.+\\:1')
        const lookalike = key('aZZb!.+\\:1')
        const another = key('ab.+\\:1')
        for (const k of [doomed, lookalike, another]) await backend.set({ key: k, value: text(k), expiresAt: null })
        await backend.clear?.({ prefix })
        const [d, l, a] = await backend.getMany([doomed, lookalike, another])
        expectMiss(d, 'the key with the literal prefix should have been cleared')
        expectValue(l, text(lookalike))
        expectValue(a, text(another))
      },
    },
  ],
}
