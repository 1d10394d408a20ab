import type { LocksFacet } from '@dcache/core'
import { expect } from 'vitest'
import type { BackendSuite, CheckContext } from '../check.js'

/** Long enough that no lock expires by accident during a check. */
const HELD_MS = 30_000

const needsLocks = ({ backend }: CheckContext) => (backend.locks ? undefined : 'the backend has no locks facet (optional)')

function locksOf({ backend }: CheckContext): LocksFacet {
  if (!backend.locks) throw new Error('unreachable: checked by unlessSupported')
  return backend.locks
}

async function acquire(locks: LocksFacet, key: string, ttl = HELD_MS): Promise<string> {
  const token = await locks.tryAcquire(key, ttl)
  expect(token, 'tryAcquire of a free lock returns a token').toBeTypeOf('string')
  return token as string
}

/** The `locks` facet: cross-process mutual exclusion with owner tokens. */
export const locksSuite: BackendSuite = {
  name: 'locks',
  checks: [
    {
      name: 'tryAcquire returns a token, then undefined while the lock is held',
      unlessSupported: needsLocks,
      run: async (context) => {
        const locks = locksOf(context)
        const token = await acquire(locks, context.key('lock'))
        expect(await locks.tryAcquire(context.key('lock'), HELD_MS)).toBeUndefined()
        await locks.release(context.key('lock'), token)
      },
    },
    {
      name: 'release with a wrong token returns false and keeps the lock',
      unlessSupported: needsLocks,
      run: async (context) => {
        const locks = locksOf(context)
        const token = await acquire(locks, context.key('lock'))
        expect(await locks.release(context.key('lock'), `${token}-not-mine`)).toBe(false)
        expect(await locks.tryAcquire(context.key('lock'), HELD_MS)).toBeUndefined()
        await locks.release(context.key('lock'), token)
      },
    },
    {
      name: 'release by the owner returns true and the lock can be taken again',
      unlessSupported: needsLocks,
      run: async (context) => {
        const locks = locksOf(context)
        const token = await acquire(locks, context.key('lock'))
        expect(await locks.release(context.key('lock'), token)).toBe(true)
        const next = await acquire(locks, context.key('lock'))
        expect(next, 'a new owner gets a new token').not.toBe(token)
        await locks.release(context.key('lock'), next)
      },
    },
    {
      name: "a lock expires after its ttl, and the old token cannot release the new owner's lock",
      unlessSupported: needsLocks,
      run: async (context) => {
        const locks = locksOf(context)
        const resolution = context.backend.capabilities.expiryResolution
        const ttl = context.clock.shortLifetime(resolution)
        const first = await acquire(locks, context.key('lock'), ttl)
        let second: string | undefined
        await context.clock.after(ttl + resolution + 1, resolution, async () => {
          second = await locks.tryAcquire(context.key('lock'), HELD_MS)
          expect(second, 'the lock is free once its ttl has passed').toBeTypeOf('string')
        })
        expect(await locks.release(context.key('lock'), first)).toBe(false)
        expect(await locks.tryAcquire(context.key('lock'), HELD_MS)).toBeUndefined()
        expect(await locks.release(context.key('lock'), second as string)).toBe(true)
      },
    },
    {
      name: 'extend succeeds for the owner only and keeps the lock past its first ttl',
      unlessSupported: (context) =>
        needsLocks(context) ?? (context.backend.locks?.extend ? undefined : 'the locks facet has no extend (optional)'),
      run: async (context) => {
        const locks = locksOf(context)
        const extend = locks.extend?.bind(locks)
        if (!extend) throw new Error('unreachable: checked by unlessSupported')
        const resolution = context.backend.capabilities.expiryResolution
        const ttl = context.clock.mode === 'fake' ? 10 * resolution : HELD_MS
        const token = await acquire(locks, context.key('lock'), ttl)
        expect(await extend(context.key('lock'), `${token}-not-mine`, HELD_MS)).toBe(false)
        expect(await extend(context.key('lock'), token, HELD_MS)).toBe(true)
        // Only a fake clock can pass the first ttl without a real wait.
        if (context.clock.mode === 'fake') {
          await context.clock.after(ttl + resolution + 1, resolution, async () => {
            expect(await locks.tryAcquire(context.key('lock'), HELD_MS)).toBeUndefined()
          })
        }
        expect(await locks.release(context.key('lock'), token)).toBe(true)
      },
    },
  ],
}
