import type { BackendSuite } from '../check.js'
import { expectMiss, expectValue, text } from './bytes.js'

/** Entries past their `expiresAt` are misses, whatever the store does underneath. */
export const expirySuite: BackendSuite = {
  name: 'expiry',
  checks: [
    {
      name: 'never returns an entry whose expiresAt is in the past (get)',
      run: async ({ backend, key, clock }) => {
        const past = clock.now() - Math.max(1000, 2 * backend.capabilities.expiryResolution)
        await backend.set({ key: key('old'), value: text('stale'), expiresAt: past })
        expectMiss(await backend.get(key('old')), 'an entry set already expired must be a miss')
      },
    },
    {
      name: 'never returns an entry whose expiresAt is in the past (getMany)',
      run: async ({ backend, key, clock }) => {
        const past = clock.now() - Math.max(1000, 2 * backend.capabilities.expiryResolution)
        await backend.set({ key: key('old'), value: text('stale'), expiresAt: past })
        await backend.set({ key: key('live'), value: text('fresh'), expiresAt: null })
        const [old, live] = await backend.getMany([key('old'), key('live')])
        expectMiss(old, 'an entry set already expired must be a miss')
        expectValue(live, text('fresh'))
      },
    },
    {
      name: 'returns an entry before it expires and a miss after (get and getMany)',
      run: async ({ backend, key, clock }) => {
        const resolution = backend.capabilities.expiryResolution
        const lifetime = clock.shortLifetime(resolution)
        await backend.set({ key: key('soon'), value: text('v'), expiresAt: clock.now() + lifetime })
        expectValue(await backend.get(key('soon')), text('v'))
        await clock.after(lifetime + resolution + 1, resolution, async () => {
          expectMiss(await backend.get(key('soon')), 'get after expiry')
          expectMiss((await backend.getMany([key('soon')]))[0], 'getMany after expiry')
        })
      },
    },
  ],
}
