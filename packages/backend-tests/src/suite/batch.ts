import { expect } from 'vitest'
import type { BackendSuite, CheckContext } from '../check.js'
import { expectMiss, expectValue, text } from './bytes.js'

const needsSetMany = ({ backend }: CheckContext) =>
  backend.setMany ? undefined : 'the backend has no setMany (optional)'
const needsDeleteMany = ({ backend }: CheckContext) =>
  backend.deleteMany ? undefined : 'the backend has no deleteMany (optional)'

/** getMany, and setMany / deleteMany when the backend has them. */
export const batchSuite: BackendSuite = {
  name: 'batch',
  checks: [
    {
      name: 'getMany returns one slot per key, in order, with undefined for misses',
      run: async ({ backend, key }) => {
        await backend.set({ key: key('a'), value: text('A'), expiresAt: null })
        await backend.set({ key: key('c'), value: text('C'), expiresAt: null })
        const entries = await backend.getMany([key('c'), key('missing'), key('a'), key('b')])
        expect(entries).toHaveLength(4)
        expectValue(entries[0], text('C'))
        expectMiss(entries[1], 'a missing key must be an undefined slot')
        expectValue(entries[2], text('A'))
        expectMiss(entries[3], 'a missing key must be an undefined slot')
      },
    },
    {
      name: 'getMany fills every slot of a duplicated key',
      run: async ({ backend, key }) => {
        await backend.set({ key: key('a'), value: text('A'), expiresAt: null })
        const entries = await backend.getMany([key('a'), key('missing'), key('a'), key('missing')])
        expect(entries).toHaveLength(4)
        expectValue(entries[0], text('A'))
        expectMiss(entries[1])
        expectValue(entries[2], text('A'))
        expectMiss(entries[3])
      },
    },
    {
      name: 'getMany of an empty list resolves to an empty array',
      run: async ({ backend }) => {
        expect(await backend.getMany([])).toEqual([])
      },
    },
    {
      name: 'setMany stores every entry with its own expiry',
      unlessSupported: needsSetMany,
      run: async ({ backend, key, clock }) => {
        const expiresAt = clock.now() + 60 * 60 * 1000
        await backend.setMany?.([
          { key: key('a'), value: text('A'), expiresAt: null },
          { key: key('b'), value: text('B'), expiresAt },
        ])
        const [a, b] = await backend.getMany([key('a'), key('b')])
        expectValue(a, text('A'))
        expect(a?.expiresAt).toBeNull()
        expectValue(b, text('B'))
        expect(b?.expiresAt).toBeTypeOf('number')
      },
    },
    {
      name: 'setMany of an empty list resolves',
      unlessSupported: needsSetMany,
      run: async ({ backend }) => {
        await expect(backend.setMany?.([])).resolves.toBeUndefined()
      },
    },
    {
      name: 'deleteMany removes the listed keys, ignores missing ones and keeps the rest',
      unlessSupported: needsDeleteMany,
      run: async ({ backend, key }) => {
        for (const name of ['a', 'b', 'c']) {
          await backend.set({ key: key(name), value: text(name), expiresAt: null })
        }
        await backend.deleteMany?.([key('a'), key('missing'), key('c')])
        const [a, b, c] = await backend.getMany([key('a'), key('b'), key('c')])
        expectMiss(a)
        expectValue(b, text('b'))
        expectMiss(c)
      },
    },
    {
      name: 'deleteMany of an empty list resolves',
      unlessSupported: needsDeleteMany,
      run: async ({ backend }) => {
        await expect(backend.deleteMany?.([])).resolves.toBeUndefined()
      },
    },
  ],
}
