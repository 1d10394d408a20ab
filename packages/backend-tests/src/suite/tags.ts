import { expect } from 'vitest'
import type { BackendSuite, CheckContext } from '../check.js'
import { expectMiss, expectValue, text } from './bytes.js'

const needsTags = ({ backend }: CheckContext) => (backend.tags ? undefined : 'the backend has no tags facet (optional)')

/** The `tags` facet: invalidating a tag removes every entry stored with it. */
export const tagsSuite: BackendSuite = {
  name: 'tags',
  checks: [
    {
      name: 'invalidate removes every entry with any of the given tags and keeps the rest',
      unlessSupported: needsTags,
      run: async ({ backend, key }) => {
        const [red, blue, green] = [key('tag:red'), key('tag:blue'), key('tag:green')]
        const entries = [
          { key: key('red'), tags: [red] },
          { key: key('red-blue'), tags: [red, blue] },
          { key: key('blue'), tags: [blue] },
          { key: key('green'), tags: [green] },
          { key: key('untagged'), tags: undefined },
        ]
        for (const e of entries) await backend.set({ key: e.key, value: text(e.key), expiresAt: null, tags: e.tags })
        await backend.tags?.invalidate([red])
        const [r, rb, b, g, u] = await backend.getMany(entries.map((e) => e.key))
        expectMiss(r, 'tagged red')
        expectMiss(rb, 'tagged red and blue')
        expectValue(b, text(key('blue')))
        expectValue(g, text(key('green')))
        expectValue(u, text(key('untagged')))
        await backend.tags?.invalidate([blue, green])
        const [b2, g2, u2] = await backend.getMany([key('blue'), key('green'), key('untagged')])
        expectMiss(b2, 'tagged blue')
        expectMiss(g2, 'tagged green')
        expectValue(u2, text(key('untagged')))
      },
    },
    {
      name: 'invalidate of an unknown tag or an empty list resolves',
      unlessSupported: needsTags,
      run: async ({ backend, key }) => {
        await expect(backend.tags?.invalidate([key('tag:unknown')])).resolves.toBeUndefined()
        await expect(backend.tags?.invalidate([])).resolves.toBeUndefined()
      },
    },
  ],
}
