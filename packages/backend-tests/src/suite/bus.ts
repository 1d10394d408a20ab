import type { BusFacet } from '@dcache/core'
import { expect } from 'vitest'
import type { BackendSuite, CheckContext } from '../check.js'
import { expectValue } from './bytes.js'

const needsBus = ({ backend }: CheckContext) => (backend.bus ? undefined : 'the backend has no bus facet (optional)')

function busOf({ backend }: CheckContext): BusFacet {
  if (!backend.bus) throw new Error('unreachable: checked by unlessSupported')
  return backend.bus
}

/** Collects messages and lets a check await the next one instead of sleeping. */
function inbox() {
  const received: Uint8Array[] = []
  const waiters: ((message: Uint8Array) => void)[] = []
  return {
    received,
    deliver(message: Uint8Array) {
      received.push(message)
      waiters.shift()?.(message)
    },
    next: () => new Promise<Uint8Array>((resolve) => waiters.push(resolve)),
  }
}

/** The `bus` facet: pub/sub between processes sharing the backend. */
export const busSuite: BackendSuite = {
  name: 'bus',
  checks: [
    {
      name: 'a subscriber receives a published message byte-exact',
      unlessSupported: needsBus,
      run: async (context) => {
        const bus = busOf(context)
        const messages = inbox()
        const unsubscribe = await bus.subscribe(context.key('channel'), messages.deliver)
        try {
          const sent = Uint8Array.from({ length: 256 }, (_, i) => i)
          const arrival = messages.next()
          await bus.publish(context.key('channel'), sent)
          expectValue({ value: await arrival, expiresAt: null }, sent)
        } finally {
          await unsubscribe()
        }
      },
    },
    {
      name: 'unsubscribe stops delivery',
      unlessSupported: needsBus,
      run: async (context) => {
        const bus = busOf(context)
        const channel = context.key('channel')
        const gone = inbox()
        const stayed = inbox()
        const unsubscribeGone = await bus.subscribe(channel, gone.deliver)
        await unsubscribeGone()
        const unsubscribeStayed = await bus.subscribe(channel, stayed.deliver)
        try {
          // Two messages through a live subscriber: had the first reached the unsubscribed one,
          // it would have arrived by the time the second one did.
          const first = stayed.next()
          await bus.publish(channel, Uint8Array.of(1))
          await first
          const second = stayed.next()
          await bus.publish(channel, Uint8Array.of(2))
          await second
          expect(gone.received).toHaveLength(0)
        } finally {
          await unsubscribeStayed()
        }
      },
    },
  ],
}
