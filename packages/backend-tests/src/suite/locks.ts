import type { LocksFacet } from '@dcache/core'
import { expect } from 'vitest'
import type { BackendSuite, CheckContext } from '../check.js'
import { expectValue, text } from './bytes.js'

/** Long enough that no lock expires by accident during a check. */
const HELD_MS = 30_000

const needsLocks = ({ backend }: CheckContext) => (backend.locks ? undefined : 'the backend has no locks facet (optional)')

function locksOf({ backend }: CheckContext): LocksFacet {
  if (!backend.locks) throw new Error('unreachable: checked by unlessSupported')
  return backend.locks
}

/** The optional methods of the locks facet a check may need. */
type OptionalLockMethod = 'extend' | 'getOrAcquire' | 'releaseAndPublish'

/** `unlessSupported` for a check of the optional method `name`: why it cannot run, if it cannot. */
function needsLockMethod(name: OptionalLockMethod): (context: CheckContext) => string | undefined {
  return (context) => needsLocks(context) ?? (context.backend.locks?.[name] ? undefined : `the locks facet has no ${name} (optional)`)
}

/** The optional method `name`, bound to its facet; present, as `needsLockMethod` checked. */
function lockMethod<K extends OptionalLockMethod>(context: CheckContext, name: K): NonNullable<LocksFacet[K]> {
  const locks = locksOf(context)
  const method = locks[name]
  if (!method) throw new Error('unreachable: checked by unlessSupported')
  return (method as (...args: never[]) => unknown).bind(locks) as NonNullable<LocksFacet[K]>
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
      unlessSupported: needsLockMethod('extend'),
      run: async (context) => {
        const locks = locksOf(context)
        const extend = lockMethod(context, 'extend')
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
    {
      name: 'getOrAcquire returns the entry when present (no lock taken), else the lock, else neither',
      unlessSupported: needsLockMethod('getOrAcquire'),
      run: async (context) => {
        const locks = locksOf(context)
        const getOrAcquire = lockMethod(context, 'getOrAcquire')
        const [key, lock] = [context.key('value'), context.key('value:lock')]
        const taken = await getOrAcquire(key, lock, HELD_MS)
        expect(taken.entry, 'an absent entry').toBeUndefined()
        expect(taken.token, 'the free lock is taken').toBeTypeOf('string')
        const held = await getOrAcquire(key, lock, HELD_MS)
        expect(held.entry).toBeUndefined()
        expect(held.token, 'a held lock is not taken twice').toBeUndefined()
        expect(await locks.release(lock, taken.token as string), 'the token is a real owner token').toBe(true)
        await context.backend.set({ key, value: text('stored'), expiresAt: null })
        const found = await getOrAcquire(key, lock, HELD_MS)
        expectValue(found.entry, text('stored'))
        expect(found.token, 'no lock is taken on a hit').toBeUndefined()
        const free = await locks.tryAcquire(lock, HELD_MS)
        expect(free, 'the hit left the lock free').toBeTypeOf('string')
        await locks.release(lock, free as string)
      },
    },
    {
      name: 'releaseAndPublish releases for the owner only, and publishes either way',
      unlessSupported: (context) =>
        needsLockMethod('releaseAndPublish')(context) ?? (context.backend.bus ? undefined : 'releaseAndPublish needs the bus facet to be observed'),
      run: async (context) => {
        const locks = locksOf(context)
        const bus = context.backend.bus!
        const releaseAndPublish = lockMethod(context, 'releaseAndPublish')
        const received: Uint8Array[] = []
        let arrived: () => void = () => {}
        const unsubscribe = await bus.subscribe(context.key('channel'), (message) => {
          received.push(message)
          arrived()
        })
        try {
          const next = () => new Promise<void>((resolve) => (arrived = resolve))
          const token = await acquire(locks, context.key('lock'))
          let arrival = next()
          expect(await releaseAndPublish(context.key('lock'), `${token}-not-mine`, context.key('channel'), text('a'))).toBe(false)
          await arrival
          expect(await locks.tryAcquire(context.key('lock'), HELD_MS), 'a wrong token keeps the lock').toBeUndefined()
          arrival = next()
          expect(await releaseAndPublish(context.key('lock'), token, context.key('channel'), text('b'))).toBe(true)
          await arrival
          expect(received.map((message) => new TextDecoder().decode(message))).toEqual(['a', 'b'])
          const again = await acquire(locks, context.key('lock'))
          await locks.release(context.key('lock'), again)
        } finally {
          await unsubscribe()
        }
      },
    },
  ],
}
