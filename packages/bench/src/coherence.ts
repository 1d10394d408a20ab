// Scenario I: cross-process invalidation delay. A writer process invalidates a key; a reader
// process holds it in a memory tier above Redis and drops it when the bus notice arrives. The
// delay runs from the start of the writer's invalidate to the reader's eviction (both clocks are
// this machine's). dcache's coherence bus against bentocache's.
import { setTimeout as sleep } from 'node:timers/promises'
import { Child } from './child.ts'
import { percentile, type LatencyRow } from './measure.ts'
import { RUN_PREFIX } from './redis-hit.ts'

const KEYS = 20
const WARM_UP = 20
const SAMPLES = 200

const PAIRS = [
  { name: 'dcache (memory + Redis, coherence bus)', reader: 'dcache-reader', writer: 'dcache-writer' },
  { name: 'bentocache (memory L1 + Redis L2 + bus)', reader: 'bentocache-reader', writer: 'bentocache-writer' },
] as const

/** I: p50/p99 of the invalidation delay between two processes, in microseconds. */
export async function coherenceDelay(url: string): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = []
  for (const pair of PAIRS) {
    const reader = new Child('coherence-worker.ts')
    const writer = new Child('coherence-worker.ts')
    try {
      const prefix = `${RUN_PREFIX}i:${pair.reader}:`
      await reader.ask({ op: 'prepare', role: pair.reader, url, prefix, keys: KEYS })
      await writer.ask({ op: 'prepare', role: pair.writer, url, prefix, keys: KEYS })
      const delays: number[] = []
      for (let k = 0; k < WARM_UP + SAMPLES; k++) {
        const id = k % KEYS
        const { at: start } = await writer.ask<{ at: number }>({ op: 'invalidate', id })
        const { evicted, at } = await reader.next<{ evicted: number; at: number }>(5_000)
        if (k >= WARM_UP && evicted === id) delays.push((at - start) * 1_000)
        await sleep(2) // the reader reads the key back before its next invalidation
      }
      delays.sort((a, b) => a - b)
      rows.push({ name: pair.name, p50: percentile(delays, 0.5), p99: percentile(delays, 0.99) })
    } finally {
      await Promise.all([reader.stop(), writer.stop()])
    }
  }
  return rows
}
