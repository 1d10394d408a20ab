import { expect } from 'vitest'
import type { BackendSuite } from '../check.js'
import { expectMiss, expectValue, text } from './bytes.js'

/** prune() and health(), when the backend has them. */
export const maintenanceSuite: BackendSuite = {
  name: 'maintenance',
  checks: [
    {
      name: 'prune() resolves to a count and keeps unexpired entries',
      unlessSupported: ({ backend }) => (backend.prune ? undefined : 'the backend has no prune (optional)'),
      run: async ({ backend, key, clock }) => {
        const past = clock.now() - Math.max(1000, 2 * backend.capabilities.expiryResolution)
        await backend.set({ key: key('old'), value: text('old'), expiresAt: past })
        await backend.set({ key: key('forever'), value: text('forever'), expiresAt: null })
        await backend.set({ key: key('later'), value: text('later'), expiresAt: clock.now() + 60 * 60 * 1000 })
        const pruned = await backend.prune?.()
        expect(Number.isInteger(pruned), 'prune() resolves to an integer count').toBe(true)
        expect(pruned).toBeGreaterThanOrEqual(0)
        const [old, forever, later] = await backend.getMany([key('old'), key('forever'), key('later')])
        expectMiss(old)
        expectValue(forever, text('forever'))
        expectValue(later, text('later'))
      },
    },
    {
      name: 'health() resolves to { ok: true }',
      unlessSupported: ({ backend }) => (backend.health ? undefined : 'the backend has no health (optional)'),
      run: async ({ backend }) => {
        expect(await backend.health?.()).toMatchObject({ ok: true })
      },
    },
  ],
}
