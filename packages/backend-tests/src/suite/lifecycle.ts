import { expect } from 'vitest'
import type { BackendSuite } from '../check.js'
import { expectValue, text } from './bytes.js'

const CONCURRENT_WRITES = 100

/** close(), and the backend under concurrent use. */
export const lifecycleSuite: BackendSuite = {
  name: 'lifecycle',
  checks: [
    {
      name: 'close() is idempotent',
      unlessSupported: ({ backend }) => (backend.close ? undefined : 'the backend has no close (optional)'),
      run: async ({ create }) => {
        // Not opened through the harness: it would try to clean up through a closed instance.
        const backend = await create()
        await expect(backend.close?.()).resolves.toBeUndefined()
        await expect(backend.close?.()).resolves.toBeUndefined()
      },
    },
    {
      name: `stores ${CONCURRENT_WRITES} concurrent sets to distinct keys`,
      run: async ({ backend, key }) => {
        const keys = Array.from({ length: CONCURRENT_WRITES }, (_, i) => key(`parallel:${i}`))
        await Promise.all(keys.map((k) => backend.set({ key: k, value: text(k), expiresAt: null })))
        const entries = await backend.getMany(keys)
        keys.forEach((k, i) => expectValue(entries[i], text(k)))
      },
    },
    {
      name: 'keeps one of the written values after concurrent sets to the same key',
      run: async ({ backend, key }) => {
        const values = Array.from({ length: 20 }, (_, i) => `writer-${i}`)
        await Promise.all(values.map((v) => backend.set({ key: key('contended'), value: text(v), expiresAt: null })))
        const entry = await backend.get(key('contended'))
        expect(values.map((v) => Buffer.from(text(v)).toString('hex'))).toContain(
          Buffer.from(entry?.value ?? new Uint8Array()).toString('hex'),
        )
      },
    },
  ],
}
