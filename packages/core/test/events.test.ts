import diagnostics from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { dcache, DIAGNOSTICS_CHANNELS, InMemoryBackend, type DcacheEvent } from '../src/index.js'
import { remoteTier } from './helpers.js'

describe('events', () => {
  it('reports miss, set and hit per tier through on()', async () => {
    const cached = dcache({ multiple: [new InMemoryBackend(), remoteTier('r')] })(async (n: number) => n, { name: 'ev' })
    const seen: string[] = []
    for (const type of ['hit', 'miss', 'set'] as const) {
      cached.on(type, (event) => seen.push(`${event.type}${'tier' in event ? `@${event.tier}` : ''}`))
    }
    await cached(1)
    await cached(1)
    expect(seen).toEqual(['miss', 'set@0', 'set@1', 'hit@0'])
  })

  it('stops delivering after unsubscribe, and keys events by the logical key', () => {
    const cached = dcache((n: number) => n, { name: 'unsub' })
    const keys: string[] = []
    const off = cached.on('miss', (event) => keys.push(event.key))
    cached(1)
    off()
    cached(2)
    expect(keys).toEqual([cached.key(1)])
  })

  it('delivers to onEvent for every function of a wrapper', () => {
    const events: DcacheEvent[] = []
    const cache = dcache(new InMemoryBackend(), { onEvent: (event) => events.push(event) })
    cache((n: number) => n, { name: 'a' })(1)
    cache((n: number) => n, { name: 'b' })(1)
    expect(events.filter((e) => e.type === 'miss').map((e) => e.name)).toEqual(['a', 'b'])
  })

  it('publishes on node:diagnostics_channel', () => {
    const received: unknown[] = []
    const listener = (message: unknown) => received.push(message)
    diagnostics.subscribe(DIAGNOSTICS_CHANNELS.miss, listener)
    try {
      dcache((n: number) => n, { name: 'diag' })(1)
    } finally {
      diagnostics.unsubscribe(DIAGNOSTICS_CHANNELS.miss, listener)
    }
    expect(received).toMatchObject([{ type: 'miss', name: 'diag' }])
  })

  it('keeps caching when a listener throws, and reports it as a process warning', async () => {
    const warning = new Promise<Error>((resolve) => process.once('warning', resolve))
    const cached = dcache((n: number) => n * 2, { name: 'throwing-listener' })
    cached.on('miss', () => {
      throw new Error('listener bug')
    })
    expect(cached(2)).toBe(4)
    expect(cached(2)).toBe(4)
    expect((await warning).message).toMatch(/listener bug/)
  })
})
